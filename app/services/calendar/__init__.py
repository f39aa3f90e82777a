"""The Punto Informativo calendar: entries, recurrence, the agenda of occurrences,
registrations, private feeds and iCalendar rendering, and grant-call reminders."""
