"""Plans, subscriptions and Stripe (`/billing`, docs/usage-and-billing.md)."""
