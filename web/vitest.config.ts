import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// Unit tests: `npm test`. Components render in jsdom; the end-to-end tests (e2e/) use a real
// browser and a real server and are run by Playwright, not by Vitest.
export default defineConfig({
  plugins: [react()],
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"] },
});
