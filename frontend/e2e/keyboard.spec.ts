import { expect, type Page, test } from "@playwright/test";
import { apiToken, expectAccessible, MAYOR, unique } from "./helpers";

test.use({ viewport: { width: 360, height: 780 } });

async function tabTo(page: Page, name: RegExp | string, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const label = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return "";
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

  // A month ahead, whose grid starts on its 1st whatever today is (the arrows stop at the
  // month's edges, so today's date must not decide where they can go).
  const now = new Date();
  const later = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 2, 1));
  await page.goto(`/calendario?vista=mes&mes=${later.toISOString().slice(0, 7)}`);
  await expect(page.getByRole("table")).toBeVisible();
  await tabTo(page, /^(lunes|martes|miércoles|jueves|viernes|sábado|domingo) 1 /);
  await page.keyboard.press("ArrowRight");
  const second = await page.evaluate(() => document.activeElement?.getAttribute("aria-label"));
  expect(second).toMatch(/^(lunes|martes|miércoles|jueves|viernes|sábado|domingo) 2 /);
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await expect(page.locator("#day-title")).toBeVisible();
  await expectAccessible(page, "grid day selected");

  await page.goto("/comunicados");
  await expect(page.getByRole("heading", { level: 1, name: "Comunicados" })).toBeVisible();
  await tabTo(page, "Nuevo horario de atención telefónica de la Oficina");
  await page.keyboard.press("Enter");
  await expect(
    page.getByRole("heading", {
      level: 1,
      name: "Nuevo horario de atención telefónica de la Oficina",
    }),
  ).toBeVisible();

  // Register to an event and subscribe to the calendar, still without a mouse.
  const headers = { Authorization: `Bearer ${await apiToken(page.request)}` };
  const from = new Date();
  const to = new Date(Date.now() + 60 * 86_400_000);
  const events = await page.request.get("/api/v1/events", {
    headers,
    params: { from: from.toISOString(), to: to.toISOString(), kind: "event" },
  });
  const event = (await events.json()).items.find(
    (e: { registration_required: boolean }) => e.registration_required,
  );
  await page.goto(`/calendario/${event.entry_id}`);
  await expect(page.getByRole("heading", { name: "Inscripción" })).toBeVisible();
  await tabTo(page, "Nombre de quien asistirá");
  const attendee = `Secretaria ${unique()}`;
  await page.keyboard.type(attendee);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("main").getByText("Inscripción hecha")).toBeVisible();
  await expect(page.getByRole("listitem").filter({ hasText: attendee })).toBeVisible();

  // The home lists it among the events the entity is registered for.
  await page.goto("/");
  await expect(
    page
      .getByRole("region", { name: "Próximos eventos en los que está inscrito" })
      .getByRole("link", { name: event.title }),
  ).toBeVisible();

  // A cancellation the server refuses says so and keeps the registration; the retry works.
  await page.goto(`/calendario/${event.entry_id}`);
  const unavailable = {
    status: 503,
    contentType: "application/problem+json",
    body: JSON.stringify({
      type: "about:blank",
      title: "Servicio no disponible",
      status: 503,
      detail: "La base de datos no responde; inténtelo de nuevo en unos segundos",
    }),
  };
  await page.route("**/registrations/*/cancel", (route) => route.fulfill(unavailable));
  await tabTo(page, `Anular inscripción de ${attendee}`);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("main").getByText("La base de datos no responde")).toBeVisible();
  await expect(page.getByRole("listitem").filter({ hasText: attendee })).toBeVisible();
  await expectAccessible(page, "a refused cancellation");
  await page.unroute("**/registrations/*/cancel");
  await page.getByRole("button", { name: `Anular inscripción de ${attendee}` }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("main").getByText("Inscripción anulada")).toBeVisible();
  await expect(page.getByRole("listitem").filter({ hasText: attendee })).toHaveCount(0);

  // So does a download of the event that fails.
  await page.route("**/api/v1/events/*.ics", (route) => route.fulfill(unavailable));
  await tabTo(page, "Añadir a mi calendario");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("main").getByText("La base de datos no responde")).toBeVisible();

  await page.goto("/calendario/suscripcion");
  await expect(
    page.getByRole("heading", { level: 1, name: "Suscribirse al calendario" }),
  ).toBeVisible();
  await tabTo(page, "Nombre para recordarla");
  await page.keyboard.type("Thunderbird de secretaría");
  await page.keyboard.press("Enter");
  await expect(page.getByLabel("Dirección de suscripción")).toHaveValue(/\.ics$/);
  await tabTo(page, "Copiar");
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("live-region")).toHaveText("Copiado al portapapeles");

  await tabTo(page, "Menú");
  await page.keyboard.press("Enter");
  await tabTo(page, "Mi perfil");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Mi perfil" })).toBeVisible();
});
