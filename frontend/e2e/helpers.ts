import AxeBuilder from "@axe-core/playwright";
import { type APIRequestContext, expect, type Page } from "@playwright/test";

export const MAYOR = {
  email: "alcaldia.almendralejo@oaaa.demo",
  password: "Demo-Almendralejo-2026!",
  municipality: "Almendralejo",
};
export const OFFICE = { email: "gestora@oaaa.demo", password: "Demo-Gestora-2026!" };

/** axe with the WCAG 2.1 A and AA rules: no violations allowed. */
export async function expectAccessible(page: Page, context = "") {
  const results = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
    .analyze();
  const summary = results.violations.map(
    (v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`,
  );
  expect(summary, `axe violations ${context}`).toEqual([]);
}

export async function login(page: Page, path = "/", user = MAYOR) {
  await page.goto(path);
  await expect(
    page.getByRole("heading", { level: 1, name: "Acceso para ayuntamientos" }),
  ).toBeVisible();
  await page.getByLabel("Correo electrónico").fill(user.email);
  await page.getByLabel("Contraseña").fill(user.password);
  await page.getByRole("button", { name: "Entrar" }).click();
  await expect(page.getByRole("navigation", { name: "Navegación principal" })).toBeVisible();
}

export async function apiToken(request: APIRequestContext, user = OFFICE): Promise<string> {
  const r = await request.post("/api/v1/auth/token", {
    form: { grant_type: "password", username: user.email, password: user.password },
  });
  expect(r.ok()).toBeTruthy();
  return (await r.json()).access_token as string;
}

export const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
