import { expect, type Page, test } from "@playwright/test";
import { expectAccessible, login, MAYOR } from "./helpers";

async function tabTo(page: Page, name: string, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const label = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return "";
      const labelled = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null;
      return `${labelled ?? ""} ${el.textContent ?? ""}`.trim();
    });
    if (label.startsWith(name)) return;
  }
  throw new Error(`could not reach ${name} with Tab`);
}

test("the plazo calculator by keyboard: errors announced, input kept, the due date explained", async ({
  page,
}) => {
  await login(page, "/");
  await page
    .getByRole("navigation", { name: "Navegación principal" })
    .getByRole("link", {
      name: "Calculadora de plazos",
    })
    .click();
  await expect(
    page.getByRole("heading", { level: 1, name: "Calculadora de plazos" }),
  ).toBeVisible();
  // The user's own municipality is preselected.
  await expect(page.getByLabel("Municipio del interesado")).toHaveValue(/.+/);
  await expect(page.getByLabel("Municipio del interesado").locator("option:checked")).toHaveText(
    MAYOR.municipality,
  );
  await expectAccessible(page, "calculator");

  // An impossible date and no term: the error summary takes the focus, nothing is lost.
  await page.locator("#main").focus();
  await tabTo(page, "Día");
  await page.keyboard.type("30");
  await page.keyboard.press("Tab");
  await page.keyboard.type("2");
  await page.keyboard.press("Tab");
  await page.keyboard.type("2026");
  await page.keyboard.press("Enter");
  const summary = page.getByRole("alert").filter({ hasText: "Hay un problema" });
  await expect(summary).toBeFocused();
  await expect(summary).toContainText("Fecha de inicio debe ser una fecha real");
  await expect(summary).toContainText("La duración debe ser un número entero");
  await expect(page.getByLabel("Mes")).toHaveValue("2");
  await expectAccessible(page, "calculator errors");

  // Notified on Thursday 10 December 2026, 20 working days: weekends, 25 December, 1 and 6
  // January skipped → Tuesday 12 January 2027, with the 2027 warning (art. 30.7).
  await page.getByLabel("Día", { exact: true }).focus();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.type("10");
  await page.keyboard.press("Tab");
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.type("12");
  await tabTo(page, "Duración del plazo");
  await page.keyboard.type("20");
  await page.keyboard.press("Enter");
  const result = page.getByRole("heading", { level: 2, name: "Resultado" });
  await expect(result).toBeFocused();
  const main = page.getByRole("main");
  await expect(
    main.getByText("martes, 12 de enero de 2027, hasta las 23:59", { exact: true }),
  ).toBeVisible();
  // Announced to screen readers too.
  await expect(page.getByTestId("live-region")).toHaveText(
    "El plazo vence el martes, 12 de enero de 2027, hasta las 23:59.",
  );
  await expect(main.getByText(/Fiesta nacional: Natividad del Señor/)).toBeVisible();
  await expect(main.getByText(/2027 no está publicado/)).toBeVisible();
  await expect(main.getByText(/Art\. 30\.6 Ley 39\/2015/)).toBeVisible();
  // What was typed stays in the form.
  await expect(page.getByLabel("Duración del plazo")).toHaveValue("20");
  await expectAccessible(page, "calculator result");
});

test("anyone can compute a plazo without signing in", async ({ page }) => {
  await page.goto("/plazos");
  await expect(
    page.getByRole("heading", { level: 1, name: "Calculadora de plazos" }),
  ).toBeVisible();
  await expect(page.getByRole("link", { name: "Acceso para ayuntamientos" })).toBeVisible();
  await expect(page.getByLabel("Municipio del interesado")).toHaveValue("");
  await expectAccessible(page, "public calculator");

  // Published Monday 22 June 2026 in Mérida, 3 working days: 23, [24 San Juan at the seat,
  // Badajoz], 25, 26 June.
  await page.getByLabel("Día", { exact: true }).fill("22");
  await page.getByLabel("Mes", { exact: true }).fill("6");
  await page.getByLabel("Año", { exact: true }).fill("2026");
  await page.getByLabel("Duración del plazo").fill("3");
  await page.getByLabel("Municipio del interesado").selectOption({ label: "Mérida" });
  await page.getByRole("button", { name: "Calcular" }).click();
  const main = page.getByRole("main");
  await expect(
    main.getByText("viernes, 26 de junio de 2026, hasta las 23:59", { exact: true }),
  ).toBeVisible();
  await expect(main.getByText("Fiesta local de Badajoz, sede del órgano: San Juan")).toBeVisible();
  await expectAccessible(page, "public calculator result");
});
