import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` serves the app on :5173 and sends the API to a `dagy server` on :8080.
export default defineConfig({
  plugins: [react()],
  server: { proxy: { "/v1": process.env.DAGY_API ?? "http://127.0.0.1:8080" } },
  // The build goes into the Python package, which serves it at `/` and ships it in the wheel.
  build: { outDir: "../src/dagy/server/webapp", emptyOutDir: true, sourcemap: false },
});
