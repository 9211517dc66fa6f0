"""Configuration and content for the web app (`/ui/*`, docs/web.md): what the landing page, the
navigation, the dashboard, the settings page and AI Studio's page show, computed per caller."""
