"""The local web app (``docket serve``): a calm, private place to keep the diary, served on
127.0.0.1 only, over the same facade (``docket.api``) as the command line."""
