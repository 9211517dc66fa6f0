"""AI Studio: sessions that turn plain language (and attached documents) into valid workflows."""
