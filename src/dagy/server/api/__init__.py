"""HTTP plumbing shared by every domain: errors, security, transactions, pagination, middleware."""
