"""The audit trail: recording (called by every service that changes something) and querying."""
