import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { LiveRegion } from "../components/LiveRegion";
import { useAction } from "./action";
import { ApiError, failureMessage } from "./problem";

afterEach(cleanup);

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function Revoke({ request }: { request: () => Promise<unknown> }) {
  const revoking = useAction();
  return (
    <>
      <LiveRegion />
      <button type="button" onClick={() => void revoking.run(request, "Enlace revocado")}>
        Revocar
      </button>
      {revoking.failure ? <p role="alert">{revoking.failure}</p> : null}
    </>
  );
}

describe("a button's request", () => {
  it("says why it failed, on screen and to screen readers, and never that it was done", async () => {
    render(
      <Revoke
        request={() =>
          Promise.reject(new ApiError(503, { detail: "La base de datos no responde" }))
        }
      />,
    );
    await act(async () => {
      screen.getByRole("button", { name: "Revocar" }).click();
      await wait(150);
    });
    expect(screen.getByRole("alert").textContent).toBe("La base de datos no responde");
    expect(screen.getByTestId("live-region").textContent).toBe("La base de datos no responde");
  });

  it("announces success and clears an earlier failure", async () => {
    let fail = true;
    render(
      <Revoke
        request={() => (fail ? Promise.reject(new ApiError(0, {})) : Promise.resolve(undefined))}
      />,
    );
    await act(async () => {
      screen.getByRole("button", { name: "Revocar" }).click();
      await wait(150);
    });
    expect(screen.getByRole("alert").textContent).toMatch(/No hay conexión/);
    fail = false;
    await act(async () => {
      screen.getByRole("button", { name: "Revocar" }).click();
      await wait(150);
    });
    expect(screen.queryByRole("alert")).toBeNull();
    expect(screen.getByTestId("live-region").textContent).toBe("Enlace revocado");
  });
});

describe("failureMessage", () => {
  it("prefers the problem's detail, then a field error, then a generic sentence", () => {
    expect(failureMessage(new ApiError(409, { detail: "Ya estaba revocado" }))).toBe(
      "Ya estaba revocado",
    );
    const field = new ApiError(422, {
      errors: [
        {
          loc: ["body", "helpful"],
          pointer: "/helpful",
          message: "Debe ser sí o no",
          code: "bool",
        },
      ],
    });
    expect(failureMessage(field)).toBe("Debe ser sí o no");
    expect(failureMessage(new Error("boom"))).toMatch(/\S/);
    expect(failureMessage(new Error("boom"))).not.toBe("boom");
  });
});
