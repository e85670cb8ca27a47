"""Billing through Lemon Squeezy: webhooks in, checkouts and portal links out.

signature     X-Signature check over the raw body
events        typed webhook payloads and API resources (pydantic)
inbox         store verified deliveries, process, list and replay them
lifecycle     what a subscription or invoice event does to a user
entitlement   the tier a subscription state grants; the effective tier
referrals     counting referred users' first paid subscriptions
lemonsqueezy  the REST API client, errors mapped into `syndic.errors`
customer      checkout URL, customer portal URL, billing status
reconcile     repairing drift against the API
emulator      a strict local stand-in for the Lemon Squeezy API
"""
