import { expect, test } from "@playwright/test";
import { apiToken, expectAccessible, login, unique } from "./helpers";

test("a mayor asks, sees it listed, and the office's answer appears live", async ({
  page,
  request,
}) => {
  await login(page, "/");
  await page.getByRole("link", { name: "Hacer una consulta" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Nueva consulta" })).toBeVisible();
  await expectAccessible(page, "new consultation");

  await page.getByRole("button", { name: "Enviar consulta" }).click();
  const summary = page.getByRole("alert").filter({ hasText: "Hay un problema" });
  await expect(summary).toBeFocused();
  await expect(summary.getByRole("link")).toHaveCount(2);
  await expectAccessible(page, "new consultation errors");

  const subject = `Subvención para el plan de empleo ${unique()}`;
  await page.getByLabel("Servicio del catálogo").selectOption({ index: 1 });
  await expect(page.getByText(/Plazo de respuesta previsto: \d+/)).toBeVisible();
  await page.getByLabel("Asunto").fill(subject);
  await expect(
    page.getByRole("heading", { name: "Quizá le sirvan estas respuestas" }),
  ).toBeVisible();
  await expectAccessible(page, "assistant suggestions");
  await page
    .getByLabel("Su consulta")
    .fill("¿Qué documentación hay que presentar para justificar la subvención?");
  await page.getByRole("button", { name: "Enviar consulta" }).click();

  await expect(page.getByRole("heading", { level: 1, name: "Consulta enviada" })).toBeVisible();
  const reference = await page.getByLabel("Referencia").inputValue();
  expect(reference).toMatch(/^OAAA-\d{4}-\d+/);
  await expect(page.getByLabel("Código de acceso")).not.toHaveValue("");
  await expectAccessible(page, "created");

  await page.getByRole("link", { name: "Ir a mis consultas" }).click();
  await expect(page.getByRole("link", { name: subject })).toBeVisible();
  await page.getByRole("link", { name: subject }).click();
  await expect(page.getByRole("heading", { level: 1, name: subject })).toBeVisible();
  await expect(page.getByText(reference).first()).toBeVisible();
  await expectAccessible(page, "detail");

  // A new access code to share the follow-up (the previous one stops working).
  await page.getByRole("button", { name: "Generar un código de acceso nuevo" }).click();
  await expect(
    page.getByRole("main").getByText("Código nuevo generado. El anterior deja de funcionar."),
  ).toBeVisible();
  await expect(page.getByLabel("Código de acceso")).toHaveValue(/\S{8,}/);

  // The office answers through the API while the mayor keeps the page open.
  const token = await apiToken(request);
  const headers = { Authorization: `Bearer ${token}` };
  const list = await request.get("/api/v1/consultations", { headers, params: { q: subject } });
  const consultation = (await list.json()).items.find(
    (c: { subject: string }) => c.subject === subject,
  );
  const answer = `Respuesta de la oficina ${unique()}: presente la memoria y las facturas.`;
  const posted = await request.post(`/api/v1/consultations/${consultation.id}/messages`, {
    headers,
    data: { body: answer, visibility: "public" },
  });
  expect(posted.ok()).toBeTruthy();
  const current = await request.get(`/api/v1/consultations/${consultation.id}`, { headers });
  const moved = await request.post(`/api/v1/consultations/${consultation.id}/transitions`, {
    headers: { ...headers, "If-Match": current.headers().etag ?? "" },
    data: { to: "answered" },
  });
  expect(moved.ok()).toBeTruthy();

  // The live stream brings the answer: the notification is announced and the page refreshes
  // well before the detail page's own 15-second refetch.
  await expect(page.getByTestId("live-region")).toContainText(
    `Nueva notificación: Consulta respondida: ${reference}`,
    { timeout: 10_000 },
  );
  await expect(page.getByTestId("thread").getByText(answer)).toBeVisible({ timeout: 5_000 });
  await expect(page.getByText("Respondida").first()).toBeVisible();
  await expectAccessible(page, "answered live");

  await page.getByRole("button", { name: "Cerrar la consulta" }).click();
  await expect(page.getByRole("heading", { name: "Encuesta de satisfacción" })).toBeVisible();
  await page.getByRole("button", { name: "Enviar valoración" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Hay un problema" })).toBeFocused();
  await expectAccessible(page, "survey errors");
  for (const dim of ["Atención recibida", "Proceso y plazos", "Resolución del problema"]) {
    await page.getByRole("group", { name: dim }).getByLabel("4").check();
  }
  await page.getByRole("button", { name: "Enviar valoración" }).click();
  await expect(
    page.getByText("Su valoración: atención 4, proceso 4, resolución 4 (de 5)."),
  ).toBeVisible();
  await page.getByLabel("Motivo para reabrir").fill("Falta un anexo por aclarar.");
  await page.getByRole("button", { name: "Reabrir la consulta" }).click();
  await expect(page.getByRole("main").getByText("Consulta reabierta")).toBeVisible();
  await expectAccessible(page, "reopened");
});

test("a failed request keeps what was typed and shows the API's field errors", async ({ page }) => {
  await login(page, "/consultas/nueva");
  await page.route("**/api/v1/consultations", async (route) => {
    if (route.request().method() !== "POST") return route.continue();
    await route.fulfill({
      status: 422,
      contentType: "application/problem+json",
      body: JSON.stringify({
        type: "https://oaaa.dip-badajoz.es/problems/validation-error",
        title: "Datos no válidos",
        status: 422,
        code: "validation-error",
        errors: [
          {
            loc: ["body", "subject"],
            pointer: "/subject",
            message: "El asunto ya existe",
            code: "invalid",
          },
        ],
      }),
    });
  });
  await page.getByLabel("Asunto").fill("Consulta que el servidor rechaza");
  await page.getByLabel("Su consulta").fill("Texto que no se debe perder");
  await page.getByRole("button", { name: "Enviar consulta" }).click();
  const summary = page.getByRole("alert").filter({ hasText: "Hay un problema" });
  await expect(summary.getByRole("link", { name: "El asunto ya existe" })).toBeVisible();
  await expect(page.getByLabel("Asunto")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Asunto")).toHaveValue("Consulta que el servidor rechaza");
  await expect(page.getByLabel("Su consulta")).toHaveValue("Texto que no se debe perder");
  await expectAccessible(page, "server errors");
});

test("a refusal of a field the form does not show is said, and what was typed stays", async ({
  page,
}) => {
  // The link from the assistant carries the question's id; a damaged link is refused by the API.
  await login(page, "/consultas/nueva?asistente=enlace-roto");
  await page.getByLabel("Asunto").fill("Consulta desde un enlace dañado");
  await page.getByLabel("Su consulta").fill("Texto que no se debe perder");
  await page.getByRole("button", { name: "Enviar consulta" }).click();
  const summary = page.getByRole("alert").filter({ hasText: "Hay un problema" });
  await expect(summary).toContainText("No se ha podido completar la operación");
  await expect(summary).toContainText("Debe ser un identificador válido (UUID)");
  await expect(summary).toBeFocused();
  await expect(page.getByLabel("Asunto")).toHaveValue("Consulta desde un enlace dañado");
  await expect(page.getByLabel("Su consulta")).toHaveValue("Texto que no se debe perder");
  await expectAccessible(page, "refusal of an unshown field");
});

test("the consultation list filters by status and validates the three-part date", async ({
  page,
}) => {
  await login(page, "/consultas");
  await page.getByRole("group", { name: "Recibidas desde" }).getByLabel("Día").fill("31");
  await page.getByRole("group", { name: "Recibidas desde" }).getByLabel("Mes").fill("2");
  await page.getByRole("group", { name: "Recibidas desde" }).getByLabel("Año").fill("2026");
  await page.getByRole("button", { name: "Aplicar filtros" }).click();
  await expect(
    page.getByRole("link", { name: /Recibidas desde debe ser una fecha real/ }),
  ).toBeVisible();
  await expectAccessible(page, "filter errors");
  await page.getByRole("group", { name: "Recibidas desde" }).getByLabel("Día").fill("1");
  await page.getByLabel("Estado").selectOption("forwarded");
  await page.getByRole("button", { name: "Aplicar filtros" }).click();
  await expect(page).toHaveURL(/estado=forwarded/);
  await expect(page.getByRole("table")).toBeVisible();
  const statuses = await page.locator("tbody td[data-label='Estado']").allInnerTexts();
  expect(statuses.length).toBeGreaterThan(0);
  for (const s of statuses) expect(s).toContain("Remitida a un área");
});

test("answering what the office asks resumes the consultation", async ({ page, request }) => {
  const headers = { Authorization: `Bearer ${await apiToken(request)}` };
  const found = await request.get("/api/v1/municipalities", { params: { q: "06011" } });
  const municipality = (await found.json()).items[0];
  const subject = `Certificado de empadronamiento ${unique()}`;
  const created = await request.post("/api/v1/consultations", {
    headers,
    data: {
      subject,
      body: "Consulta recibida por correo electrónico.",
      municipality_id: municipality.id,
      channel: "email",
      received_at: new Date().toISOString(),
    },
  });
  expect(created.ok()).toBeTruthy();
  const { id } = await created.json();
  const current = await request.get(`/api/v1/consultations/${id}`, { headers });
  const waiting = await request.post(`/api/v1/consultations/${id}/transitions`, {
    headers: { ...headers, "If-Match": current.headers().etag ?? "" },
    data: { to: "waiting_on_municipality", reason: "Falta el certificado del secretario" },
  });
  expect(waiting.ok()).toBeTruthy();

  await login(page, "/");
  const section = page.getByRole("region", { name: "Consultas que esperan su respuesta" });
  await expect(
    section.getByText("plazo suspendido: esperando a su ayuntamiento").first(),
  ).toBeVisible();
  await section.getByRole("link", { name: subject }).click();
  await expect(page.getByText("Motivo: Falta el certificado del secretario")).toBeVisible();
  await expectAccessible(page, "waiting on the municipality");
  await page.getByRole("button", { name: "Enviar respuesta y reanudar el plazo" }).click();
  await expect(page.getByRole("link", { name: "Escriba su respuesta a la oficina" })).toBeVisible();
  await page
    .getByRole("textbox", { name: "Su respuesta a la oficina" })
    .fill("Adjuntamos el certificado por registro electrónico.");
  await page.getByRole("button", { name: "Enviar respuesta y reanudar el plazo" }).click();
  await expect(page.getByRole("main").getByText("En estudio en la oficina").first()).toBeVisible();
  await expect(page.getByTestId("thread").getByText("Adjuntamos el certificado")).toBeVisible();
  await expect(page.getByText("La oficina espera su respuesta")).toHaveCount(0);
  await expectAccessible(page, "resumed");
});
