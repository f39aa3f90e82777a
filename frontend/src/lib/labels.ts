import { t } from "./i18n";

export const expedienteStatusLabel = (s: string) =>
  ({
    open: t.expedientes.status_open,
    resolved: t.expedientes.status_resolved,
    archived: t.expedientes.status_archived,
  })[s] ?? s;
