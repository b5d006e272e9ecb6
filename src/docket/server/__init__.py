"""Server mode for advocacy services: accounts, cases on PostgreSQL, access and audit."""
