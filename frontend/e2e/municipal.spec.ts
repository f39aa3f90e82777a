import { expect, test } from "@playwright/test";
import { apiToken, expectAccessible, login, unique } from "./helpers";

const ROUTES: Array<[string, string]> = [
  ["/", "Inicio"],
  ["/consultas", "Consultas"],
  ["/consultas/nueva", "Nueva consulta"],
  ["/expedientes", "Expedientes"],
  ["/calendario", "Calendario"],
  ["/calendario?vista=mes", "Calendario"],
  ["/calendario/suscripcion", "Suscribirse al calendario"],
  ["/comunicados", "Comunicados"],
  ["/notificaciones", "Notificaciones"],
  ["/sugerencias", "Sugerencias"],
  ["/formacion", "Formación"],
  ["/plazos", "Calculadora de plazos"],
  ["/perfil", "Mi perfil"],
  ["/no-existe", "No encontramos esa página"],
];

test("every route is accessible at desktop width, at 200 % zoom (640 px) and at 320 px", async ({
  page,
}) => {
  test.setTimeout(180_000);
  await login(page, "/");
  for (const [path, title] of ROUTES) {
    for (const width of [1280, 640, 320]) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(path);
      await expect(page.getByRole("heading", { level: 1, name: title })).toBeVisible();
      await expect(page.getByText("Cargando…")).toHaveCount(0);
      await expectAccessible(page, `${path} @${width}`);
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow, `${path} scrolls sideways at ${width}px`).toBeLessThanOrEqual(0);
    }
  }
});

test("an expediente shows its stage timeline", async ({ page }) => {
  await login(page, "/expedientes");
  await page.getByRole("link", { name: "Pavimentación de la calle Real" }).click();
  await expect(page.getByRole("heading", { name: "Fases del expediente" })).toBeVisible();
  await expect(page.getByText(/días? hábil(es)?/).first()).toBeVisible();
  await expect(page.getByText("fase actual", { exact: true })).toBeVisible();
  await expectAccessible(page, "expediente");
});

test("register to an event and add it to the calendar", async ({ page }) => {
  await login(page, "/calendario");
  const month = page.getByRole("button", { name: "Mes", exact: true });
  await month.click();
  await expect(month).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByRole("table")).toBeVisible();
  await expectAccessible(page, "month view");
  await page.getByRole("button", { name: "Agenda", exact: true }).click();
  await expect(page.getByRole("table")).toHaveCount(0);
  const months = 3;
  let found = false;
  for (let i = 0; i < months && !found; i++) {
    await expect(page.getByText("Cargando…")).toHaveCount(0);
    const link = page
      .locator(".agenda a")
      .filter({ hasText: /Jornada/ })
      .first();
    if (await link.count()) {
      await link.click();
      found = true;
    } else {
      await page.getByRole("link", { name: /Mes siguiente/ }).click();
    }
  }
  expect(found).toBeTruthy();
  await expect(page.getByRole("heading", { name: "Inscripción" })).toBeVisible();
  await page.getByRole("button", { name: "Inscribirse" }).click();
  await expect(page.getByRole("link", { name: /Escriba nombre de quien asistirá/ })).toBeVisible();
  await expectAccessible(page, "registration errors");
  const name = `Concejala ${unique()}`;
  await page.getByLabel("Nombre de quien asistirá").fill(name);
  await page.getByRole("button", { name: "Inscribirse" }).click();
  await expect(page.getByText("Inscripción hecha").first()).toBeVisible();
  await expect(page.getByRole("listitem").filter({ hasText: name })).toBeVisible();
  await expectAccessible(page, "registered");
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Añadir a mi calendario (.ics)" }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/\.ics$/);
});

test("subscribe to the calendar with the private feed", async ({ page, request }) => {
  await login(page, "/calendario");
  await page.getByRole("link", { name: "Suscribirse al calendario" }).click();
  await expect(page.getByRole("heading", { name: "Outlook" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Google Calendar" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Thunderbird" })).toBeVisible();
  const label = `Outlook de alcaldía ${unique()}`;
  await page.getByLabel(/Nombre para recordarla/).fill(label);
  await page.getByRole("button", { name: "Crear mi dirección de suscripción" }).click();
  const url = await page.getByLabel("Dirección de suscripción").inputValue();
  expect(url).toMatch(/\/api\/v1\/calendar\/.+\.ics$/);
  await expectAccessible(page, "feed created");
  const feed = await request.get(new URL(url).pathname);
  expect(feed.ok()).toBeTruthy();
  expect(await feed.text()).toContain("BEGIN:VCALENDAR");
  await expect(page.getByRole("listitem").filter({ hasText: label })).toBeVisible();
});

test("reading an announcement marks it read and updates the count", async ({ page, request }) => {
  const headers = { Authorization: `Bearer ${await apiToken(request)}` };
  const title = `Cierre de la sede electrónica ${unique()}`;
  const draft = await request.post("/api/v1/announcements", {
    headers,
    data: { title, body: "El sábado la sede electrónica no estará disponible.", audience: "all" },
  });
  expect(draft.ok()).toBeTruthy();
  const published = await request.post(`/api/v1/announcements/${(await draft.json()).id}/publish`, {
    headers,
  });
  expect(published.ok()).toBeTruthy();
  await login(page, "/comunicados");
  const nav = page.getByRole("navigation", { name: "Navegación principal" });
  const badge = nav.getByRole("link", { name: /^Comunicados\W+\d+ sin leer$/ });
  await expect(badge).toBeVisible();
  const before = Number(((await badge.textContent()) ?? "").match(/\d+/)?.[0]);
  await page.getByRole("link", { name: title }).click();
  await expect(page.getByRole("heading", { level: 1, name: title })).toBeVisible();
  await expect(
    nav.getByRole("link", {
      name: before > 1 ? new RegExp(`^Comunicados\\W+${before - 1} sin leer$`) : /^Comunicados$/,
    }),
  ).toBeVisible();
  await expectAccessible(page, "announcement");
});

test("a new notification arrives live: badge, feed and the live region", async ({
  page,
  request,
}) => {
  await login(page, "/notificaciones");
  const nav = page.getByRole("navigation", { name: "Navegación principal" });
  await expect(page.getByText("Cargando…")).toHaveCount(0);
  const before = await page.getByTestId("notifications").getByRole("listitem").count();
  // The office records an overdue phone consultation for Almendralejo; the worker's deadline
  // scan tells the municipality, through the stream, without a reload.
  const token = await apiToken(request);
  const municipalities = await request.get("/api/v1/municipalities", { params: { q: "06011" } });
  const municipality = (await municipalities.json()).items[0];
  const subject = `Llamada sobre el padrón ${unique()}`;
  const created = await request.post("/api/v1/consultations", {
    headers: { Authorization: `Bearer ${token}` },
    data: {
      subject,
      body: "Consulta telefónica registrada por la oficina.",
      municipality_id: municipality.id,
      channel: "phone",
      received_at: new Date(Date.now() - 60 * 86_400_000).toISOString(),
    },
  });
  expect(created.ok()).toBeTruthy();
  await expect
    .poll(() => page.getByTestId("notifications").getByRole("listitem").count(), {
      timeout: 30_000,
    })
    .toBeGreaterThan(before);
  await expect(page.getByTestId("live-region")).toContainText("Nueva notificación");
  await expect(
    nav.getByRole("link", { name: /^Notificaciones\W+\d+ notificaciones? sin leer$/ }),
  ).toBeVisible();
  // Both clocks (first response and resolution) are overdue: wait for both breach notices, so
  // that none arrives after everything has been marked read.
  await expect(
    page
      .getByTestId("notifications")
      .getByRole("listitem")
      .filter({ hasText: subject })
      .filter({ hasText: "vencido" }),
  ).toHaveCount(2, { timeout: 30_000 });
  await expectAccessible(page, "live notification");
  await page.getByRole("button", { name: "Marcar todas como leídas" }).click();
  await expect(nav.getByRole("link", { name: /^Notificaciones$/ })).toBeVisible();
  await expect(page.getByTestId("live-region")).toHaveText("Todas las notificaciones están leídas");
});

test("the assistant answers on any page and offers a consultation otherwise", async ({ page }) => {
  await login(page, "/expedientes");
  await page.getByRole("button", { name: "Asistente" }).click();
  const dialog = page.getByRole("dialog", { name: "Asistente de preguntas frecuentes" });
  await expect(dialog).toBeVisible();
  await expectAccessible(page, "assistant open");
  await dialog.getByRole("button", { name: "Preguntar" }).click();
  await expect(dialog.getByRole("alert").filter({ hasText: "Hay un problema" })).toBeVisible();
  await expectAccessible(page, "assistant errors");
  await dialog.getByLabel("Su pregunta").fill("xyzzy qwerty plugh");
  await dialog.getByRole("button", { name: "Preguntar" }).click();
  await dialog.getByRole("link", { name: "Enviar esta pregunta como consulta" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Nueva consulta" })).toBeVisible();
  await expect(page.getByLabel("Su consulta")).toHaveValue("xyzzy qwerty plugh");
});

test("suggestions validate on the client and are listed once sent", async ({ page }) => {
  await login(page, "/sugerencias");
  await page.getByRole("button", { name: "Enviar sugerencia" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Hay un problema" })).toBeFocused();
  await expectAccessible(page, "suggestion errors");
  const title = `Ampliar el horario ${unique()}`;
  await page.getByLabel("Título").fill(title);
  await page.getByLabel("Descripción").fill("Atención por la tarde los jueves.");
  await page.getByRole("button", { name: "Enviar sugerencia" }).click();
  await expect(page.getByRole("heading", { name: title })).toBeVisible();
});
