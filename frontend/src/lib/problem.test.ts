import { describe, expect, it } from "vitest";
import { ApiError, problemToErrors, unwrap } from "./problem";

describe("problem documents", () => {
  it("maps errors[] to fields by their location", () => {
    const error = new ApiError(422, {
      status: 422,
      errors: [
        {
          loc: ["body", "subject"],
          pointer: "/subject",
          message: "Demasiado corto",
          code: "too_short",
        },
        {
          loc: ["body", "items", 0, "kind"],
          pointer: "/items/0/kind",
          message: "No válido",
          code: "enum",
        },
      ],
    });
    expect(problemToErrors(error)).toEqual({
      fields: { subject: "Demasiado corto", kind: "No válido" },
    });
  });
  it("uses the detail when no field is named, and a network message when offline", () => {
    expect(problemToErrors(new ApiError(409, { detail: "Ya está cerrada" })).form).toBe(
      "Ya está cerrada",
    );
    expect(problemToErrors(new ApiError(0, {})).form).toMatch(/No hay conexión/);
  });
  it("unwraps data and throws ApiError on failure", async () => {
    const ok = new Response("{}", { status: 200 });
    await expect(unwrap(Promise.resolve({ data: { a: 1 }, response: ok }))).resolves.toEqual({
      a: 1,
    });
    const bad = new Response("{}", { status: 404 });
    await expect(
      unwrap(Promise.resolve({ error: { title: "No encontrado" }, response: bad })),
    ).rejects.toMatchObject({ status: 404 });
    await expect(unwrap(Promise.reject(new TypeError("fetch failed")))).rejects.toMatchObject({
      status: 0,
    });
  });
});
