import { expect, type Page, test } from "@playwright/test";
import { expectAccessible, MAYOR, unique } from "./helpers";

test.use({ viewport: { width: 360, height: 780 } });

async function tabTo(page: Page, name: RegExp | string, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const label = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el) return "";
      const labelled = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null;
      return `${el.getAttribute("aria-label") ?? ""} ${labelled ?? ""} ${el.textContent ?? ""}`.trim();
    });
    if (typeof name === "string" ? label.includes(name) : name.test(label)) return;
  }
  throw new Error(`could not reach ${name} with Tab`);
}

test("keyboard only at phone width: log in, ask, browse the month grid, read", async ({ page }) => {
  await page.goto("/");
  await expect(
    page.getByRole("heading", { level: 1, name: "Acceso para ayuntamientos" }),
  ).toBeVisible();
  await tabTo(page, "Correo electrónico");
  await page.keyboard.type(MAYOR.email);
  await page.keyboard.press("Tab");
  await page.keyboard.type(MAYOR.password);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Inicio" })).toBeVisible();

  await page.reload();
  await expect(page.getByRole("heading", { level: 1, name: "Inicio" })).toBeVisible();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Saltar al contenido principal" })).toBeFocused();
  await tabTo(page, "Hacer una consulta");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Nueva consulta" })).toBeVisible();
  await tabTo(page, "Asunto");
  const subject = `Consulta por teclado ${unique()}`;
  await page.keyboard.type(subject);
  await page.keyboard.press("Tab");
  await page.keyboard.type("Escrita sin ratón.");
  await tabTo(page, "Enviar consulta");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Consulta enviada" })).toBeVisible();
  await expectAccessible(page, "keyboard created");

  await page.goto("/calendario?vista=mes");
  await expect(page.getByRole("table")).toBeVisible();
  await tabTo(page, /^(lunes|martes|miércoles|jueves|viernes|sábado|domingo) \d+/);
  const first = await page.evaluate(() => document.activeElement?.getAttribute("aria-label"));
  await page.keyboard.press("ArrowRight");
  const second = await page.evaluate(() => document.activeElement?.getAttribute("aria-label"));
  expect(second).not.toBe(first);
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await expect(page.locator("#day-title")).toBeVisible();
  await expectAccessible(page, "grid day selected");

  await page.goto("/comunicados");
  await tabTo(page, "Nuevo horario de atención telefónica de la Oficina");
  await page.keyboard.press("Enter");
  await expect(
    page.getByRole("heading", {
      level: 1,
      name: "Nuevo horario de atención telefónica de la Oficina",
    }),
  ).toBeVisible();

  await tabTo(page, "Menú");
  await page.keyboard.press("Enter");
  await tabTo(page, "Mi perfil");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Mi perfil" })).toBeVisible();
});
