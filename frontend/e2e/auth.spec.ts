import { expect, test } from "@playwright/test";
import { expectAccessible, login, MAYOR } from "./helpers";

test("a protected page sends to login and back, with errors summarised and linked", async ({
  page,
}) => {
  await page.goto("/expedientes");
  await expect(page).toHaveURL(/\/login\?redirect=%2Fexpedientes/);
  await expectAccessible(page, "login");
  await page.getByRole("button", { name: "Entrar" }).click();
  const summary = page.getByRole("alert").filter({ hasText: "Hay un problema" });
  await expect(summary).toBeFocused();
  await expect(summary.getByRole("link", { name: "Escriba su correo electrónico" })).toBeVisible();
  await expectAccessible(page, "login errors");
  await summary.getByRole("link", { name: "Escriba su contraseña" }).click();
  await expect(page.getByLabel("Contraseña")).toBeFocused();
  await page.getByLabel("Correo electrónico").fill(MAYOR.email);
  await page.getByLabel("Contraseña").fill("wrong-password");
  await page.getByRole("button", { name: "Entrar" }).click();
  await expect(
    page.getByText("El correo electrónico o la contraseña no son correctos."),
  ).toBeVisible();
  await expect(page.getByLabel("Correo electrónico")).toHaveValue(MAYOR.email);
  await page.getByLabel("Contraseña").fill(MAYOR.password);
  await page.getByRole("button", { name: "Entrar" }).click();
  await expect(page).toHaveURL(/\/expedientes$/);
  await expect(page.getByRole("heading", { level: 1, name: "Expedientes" })).toBeVisible();
});

test("the access token is never stored by the page", async ({ page }) => {
  await login(page, "/");
  const stored = await page.evaluate(() => ({
    local: JSON.stringify({ ...localStorage }),
    session: JSON.stringify({ ...sessionStorage }),
    cookies: document.cookie,
  }));
  expect(stored.local).not.toMatch(/eyJ/);
  expect(stored.session).not.toMatch(/eyJ/);
  expect(stored.cookies).toBe("");
  const cookies = await page.context().cookies();
  const refresh = cookies.find((c) => c.name === "oaaa_refresh");
  expect(refresh?.httpOnly).toBe(true);
  expect(refresh?.sameSite).toBe("Strict");
});

test("a reload keeps the session through the refresh cookie; logout ends it", async ({ page }) => {
  await login(page, "/consultas");
  await page.reload();
  await expect(page.getByRole("heading", { level: 1, name: "Consultas" })).toBeVisible();
  await page.getByRole("button", { name: "Cerrar sesión" }).click();
  await expect(page.getByText("Ha cerrado la sesión.")).toBeVisible();
  await page.goto("/consultas");
  await expect(page).toHaveURL(/\/login/);
});

test("an expired session returns to login and then to the same page", async ({ page }) => {
  await login(page, "/calendario");
  await page.context().clearCookies();
  // The access token lasts one minute in the test stack; its renewal now fails.
  await expect(page.getByText("Su sesión ha caducado")).toBeVisible({ timeout: 30_000 });
  await expect(page).toHaveURL(/redirect=%2Fcalendario/);
  await page.getByLabel("Correo electrónico").fill(MAYOR.email);
  await page.getByLabel("Contraseña").fill(MAYOR.password);
  await page.getByRole("button", { name: "Entrar" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Calendario" })).toBeVisible();
});
