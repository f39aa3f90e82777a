import { virtual } from "@guidepup/virtual-screen-reader";
import { act, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { announce } from "../lib/announcer";
import { t } from "../lib/i18n";
import { ErrorSummary } from "./forms";
import { LiveRegion } from "./LiveRegion";

afterEach(async () => {
  await virtual.stop();
});

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("what a screen reader hears", () => {
  it("announces a new notification politely", async () => {
    const { container } = render(<LiveRegion />);
    await virtual.start({ container });
    await act(async () => {
      announce(t.notifications.live("Consulta OAAA-2026-000123 respondida"));
      await wait(120);
    });
    expect(screen.getByRole("status")).toHaveTextContent("Nueva notificación");
    expect(await virtual.spokenPhraseLog()).toContain(
      "polite: Nueva notificación: Consulta OAAA-2026-000123 respondida",
    );
  });

  it("reads the error summary as an alert with each error", async () => {
    const { container } = render(
      <ErrorSummary form="f" errors={{ subject: "Escriba el asunto" }} order={["subject"]} />,
    );
    await virtual.start({ container });
    const log = await virtual.spokenPhraseLog();
    expect(log.join(" | ")).toMatch(/alert/);
    for (let i = 0; i < 8; i++) await virtual.next();
    expect((await virtual.spokenPhraseLog()).join(" | ")).toContain("Escriba el asunto");
  });
});
