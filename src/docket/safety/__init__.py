"""Tech-safety checks a person can run themselves (research: security.md §5, legal-risk.md
§5.3): known stalkerware indicators in an Android phone's app list, location and device
details in photos before they are posted, and the account-safety checklist.

Nothing here can say a phone or an account is clean or safe: a check can only say whether a
*known* indicator was found.
"""
