import { cleanup, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorSummary, Field } from "./forms";

afterEach(cleanup);

describe("error summary", () => {
  it("is focused, lists errors in field order and links each to its field", async () => {
    render(
      <form>
        <ErrorSummary
          form="f"
          errors={{ body: "Escriba su consulta", subject: "Escriba el asunto" }}
          order={["subject", "body"]}
        />
        <Field form="f" name="subject" label="Asunto" error="Escriba el asunto">
          {(p) => <input {...p} />}
        </Field>
        <Field form="f" name="body" label="Su consulta" error="Escriba su consulta">
          {(p) => <textarea {...p} />}
        </Field>
      </form>,
    );
    const alert = screen.getByRole("alert");
    expect(alert).toHaveFocus();
    const links = screen.getAllByRole("link");
    expect(links.map((l) => l.textContent)).toEqual(["Escriba el asunto", "Escriba su consulta"]);
    await userEvent.click(links[1] as HTMLElement);
    expect(screen.getByLabelText("Su consulta")).toHaveFocus();
    expect(screen.getByLabelText("Asunto")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Asunto")).toHaveAccessibleDescription(/Escriba el asunto/);
  });
  it("says so when the API refuses a field the form does not show", () => {
    render(
      <ErrorSummary
        form="f"
        errors={{ assistant_query_id: "Debe ser un identificador válido (UUID)" }}
        order={["subject"]}
      />,
    );
    const alert = screen.getByRole("alert");
    expect(alert).toHaveFocus();
    expect(screen.getAllByRole("listitem").map((li) => li.textContent)).toEqual([
      "No se ha podido completar la operación. Sus datos siguen en el formulario.",
      "Debe ser un identificador válido (UUID)",
    ]);
    expect(screen.queryByRole("link")).toBeNull();
  });
  it("renders nothing without errors", () => {
    const { container } = render(<ErrorSummary form="f" errors={{}} order={["a"]} />);
    expect(container).toBeEmptyDOMElement();
  });
});
