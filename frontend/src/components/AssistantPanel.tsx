import { Link } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { Dialog, Heading, Modal, ModalOverlay } from "react-aria-components";
import { assistantAsk, assistantFeedback } from "../client";
import { useAction } from "../lib/action";
import { t } from "../lib/i18n";
import { failureMessage, unwrap } from "../lib/problem";
import { ErrorSummary, type Errors, TextAreaField, validateLength } from "./forms";
import { Notice } from "./ui";

interface Turn {
  question: string;
  queryId: string;
  answered: boolean;
  message: string;
  answers: Array<{ question: string; answer: string }>;
  feedback?: boolean;
}

export default function AssistantPanel({ onClose }: { onClose: () => void }) {
  const [turns, setTurns] = useState<Turn[]>([]);
  const [question, setQuestion] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const sending = useAction();

  async function ask(e: FormEvent) {
    e.preventDefault();
    const next: Errors = {};
    validateLength(next, "question", t.assistant.question, question, 3, 500);
    setErrors(next);
    setFormError(undefined);
    if (Object.keys(next).length > 0) return;
    setBusy(true);
    try {
      const r = await unwrap(assistantAsk({ body: { question } }));
      setTurns((prev) => [
        ...prev,
        {
          question,
          queryId: r.query_id,
          answered: r.answered,
          message: r.message,
          answers: r.answers.slice(0, 2),
        },
      ]);
      setQuestion("");
    } catch (error) {
      setFormError(failureMessage(error));
    } finally {
      setBusy(false);
    }
  }

  async function feedback(index: number, helpful: boolean) {
    const turn = turns[index];
    if (!turn) return;
    const sent = await sending.run(() =>
      unwrap(assistantFeedback({ path: { query_id: turn.queryId }, body: { helpful } })),
    );
    if (sent)
      setTurns((prev) => prev.map((x, i) => (i === index ? { ...x, feedback: helpful } : x)));
  }

  return (
    <ModalOverlay
      isOpen
      isDismissable
      onOpenChange={(open) => (open ? undefined : onClose())}
      className="modal-overlay"
    >
      <Modal className="modal modal--side">
        <Dialog className="dialog" aria-labelledby="assistant-title">
          <div className="dialog__header">
            <Heading slot="title" id="assistant-title" level={2}>
              {t.assistant.title}
            </Heading>
            <button type="button" className="button button--secondary" onClick={onClose}>
              {t.assistant.close}
            </button>
          </div>
          <p>{t.assistant.intro}</p>
          <ol className="chat" aria-live="polite">
            {turns.map((turn, i) => (
              <li key={turn.queryId} className="chat__turn">
                <p className="chat__you">
                  <strong>{t.assistant.you}:</strong> {turn.question}
                </p>
                <div className="chat__bot">
                  <strong>{t.assistant.bot}:</strong>
                  {turn.answered ? (
                    turn.answers.map((a) => (
                      <div key={a.question} className="chat__answer">
                        <p className="chat__question">{a.question}</p>
                        <p>{a.answer}</p>
                      </div>
                    ))
                  ) : (
                    <>
                      <p>{t.assistant.noAnswer}</p>
                      <Link
                        to="/consultas/nueva"
                        search={{ pregunta: turn.question, asistente: turn.queryId }}
                        className="button"
                        onClick={onClose}
                      >
                        {t.assistant.openConsultation}
                      </Link>
                    </>
                  )}
                  {turn.answered && turn.feedback === undefined ? (
                    <div className="button-row">
                      <button
                        type="button"
                        className="button button--secondary"
                        onClick={() => feedback(i, true)}
                      >
                        {t.assistant.helpful}
                      </button>
                      <button
                        type="button"
                        className="button button--secondary"
                        onClick={() => feedback(i, false)}
                      >
                        {t.assistant.notHelpful}
                      </button>
                    </div>
                  ) : null}
                  {turn.feedback !== undefined ? <p>{t.assistant.thanks}</p> : null}
                  {turn.answered && turn.feedback === false ? (
                    <Link
                      to="/consultas/nueva"
                      search={{ pregunta: turn.question, asistente: turn.queryId }}
                      className="button"
                      onClick={onClose}
                    >
                      {t.assistant.openConsultation}
                    </Link>
                  ) : null}
                </div>
              </li>
            ))}
          </ol>
          {sending.failure ? <Notice tone="error">{sending.failure}</Notice> : null}
          <form onSubmit={ask} noValidate>
            <ErrorSummary
              form="assistant"
              errors={errors}
              order={["question"]}
              message={formError}
            />
            <TextAreaField
              form="assistant"
              name="question"
              label={t.assistant.question}
              error={errors.question}
              rows={3}
              value={question}
              onChange={setQuestion}
            />
            <button type="submit" className="button" disabled={busy}>
              {busy ? t.saving : t.assistant.ask}
            </button>
          </form>
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}
