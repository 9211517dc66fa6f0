"""An org's credits: a balance on the org and a ledger of every change to it."""
