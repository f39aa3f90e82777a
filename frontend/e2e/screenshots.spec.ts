import { expect, test } from "@playwright/test";
import { login } from "./helpers";

const PAGES: Array<[string, string, string]> = [
  ["login", "/login", "Acceso para ayuntamientos"],
  ["inicio", "/", "Inicio"],
  ["consultas", "/consultas", "Consultas"],
  ["nueva-consulta", "/consultas/nueva", "Nueva consulta"],
  ["expedientes", "/expedientes", "Expedientes"],
  ["calendario", "/calendario", "Calendario"],
  ["calendario-mes", "/calendario?vista=mes", "Calendario"],
  ["suscripcion", "/calendario/suscripcion", "Suscribirse al calendario"],
  ["comunicados", "/comunicados", "Comunicados"],
  ["notificaciones", "/notificaciones", "Notificaciones"],
];

const SIZES = [
  ["escritorio", { width: 1280, height: 860 }],
  ["movil", { width: 375, height: 760 }],
] as const;

test("screenshots of the main pages into docs/screenshots", async ({ page }) => {
  await page.goto("/login");
  for (const [size, viewport] of SIZES) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: `../docs/screenshots/login-${size}.png` });
  }
  await login(page, "/");
  for (const [name, path, title] of PAGES.slice(1)) {
    await page.goto(path);
    await expect(page.getByRole("heading", { level: 1, name: title })).toBeVisible();
    await expect(page.getByText("Cargando…")).toHaveCount(0);
    await page.waitForLoadState("networkidle");
    for (const [size, viewport] of SIZES) {
      await page.setViewportSize(viewport);
      await page.screenshot({ path: `../docs/screenshots/${name}-${size}.png` });
    }
    const detail = {
      consultas: page.locator("tbody a").first(),
      expedientes: page.getByRole("link", { name: "Pavimentación de la calle Real" }),
    }[name];
    if (detail) {
      await page.setViewportSize(SIZES[0][1]);
      await detail.click();
      await expect(page.getByText("Cargando…")).toHaveCount(0);
      await expect(page.getByRole("heading", { level: 2 }).first()).toBeVisible();
      await page.waitForLoadState("networkidle");
      for (const [size, viewport] of SIZES) {
        await page.setViewportSize(viewport);
        await page.screenshot({ path: `../docs/screenshots/${name}-detalle-${size}.png` });
      }
    }
  }
  await page.setViewportSize(SIZES[0][1]);
  await page.getByRole("button", { name: "Asistente" }).click();
  await page.getByLabel("Su pregunta").fill("¿Cómo pido una subvención para caminos rurales?");
  await page.getByRole("button", { name: "Preguntar" }).click();
  await expect(page.getByRole("button", { name: "Preguntar" })).toBeVisible();
  await expect(page.getByText("Asistente:")).toBeVisible();
  await page.screenshot({ path: "../docs/screenshots/asistente-escritorio.png" });
  await page.keyboard.press("Escape");

  // The plazo calculator with a result: 20 working days from 10 December 2026.
  await page.goto("/plazos");
  await expect(page.getByText("Cargando…")).toHaveCount(0);
  await page.getByLabel("Día", { exact: true }).fill("10");
  await page.getByLabel("Mes", { exact: true }).fill("12");
  await page.getByLabel("Año", { exact: true }).fill("2026");
  await page.getByLabel("Duración del plazo").fill("20");
  await page.getByRole("button", { name: "Calcular" }).click();
  await expect(page.getByRole("heading", { level: 2, name: "Resultado" })).toBeVisible();
  for (const [size, viewport] of SIZES) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: `../docs/screenshots/plazos-${size}.png`, fullPage: true });
  }
});
