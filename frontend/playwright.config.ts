import { defineConfig } from "@playwright/test";

const baseURL = process.env.OAAA_E2E_BASE_URL ?? "http://127.0.0.1:8000";

export const chromium = {
  executablePath: process.env.OAAA_CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
};

export default defineConfig({
  testDir: "e2e",
  testIgnore: ["**/screenshots.spec.ts"],
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 2,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL,
    locale: "es-ES",
    permissions: ["clipboard-read", "clipboard-write"],
    timezoneId: "Europe/Madrid",
    launchOptions: chromium,
    trace: "off",
    screenshot: "only-on-failure",
  },
});
