import { describe, expect, it } from "vitest";
import { deadlineWords, isoFromParts, madridMidnight, workingDaysBetween } from "./format";

const NOW = new Date("2026-12-14T10:00:00+01:00"); // Monday 14 December 2026

describe("deadlines in words", () => {
  it("counts working days and names the day", () => {
    expect(deadlineWords("2026-12-17T14:00:00+01:00", { now: NOW })).toEqual({
      text: "vence el jueves 17 de diciembre — quedan 3 días hábiles",
      tone: "warning",
    });
  });
  it("skips weekends and holidays", () => {
    expect(workingDaysBetween("2026-12-18", "2026-12-21")).toBe(1);
    expect(workingDaysBetween("2026-12-24", "2026-12-28", new Set(["2026-12-25"]))).toBe(1);
    const words = deadlineWords("2026-12-29", { now: NOW, holidays: new Set(["2026-12-25"]) });
    expect(words.text).toBe("vence el martes 29 de diciembre — quedan 10 días hábiles");
    expect(words.tone).toBe("ok");
  });
  it("says when it is due today, overdue, suspended or absent", () => {
    expect(deadlineWords("2026-12-14T20:00:00+01:00", { now: NOW }).text).toBe(
      "vence hoy, lunes 14 de diciembre",
    );
    const overdue = deadlineWords("2026-12-10", { now: NOW });
    expect(overdue).toEqual({
      text: "venció el jueves 10 de diciembre — hace 2 días hábiles",
      tone: "danger",
    });
    expect(deadlineWords("2026-12-20", { now: NOW, paused: true }).text).toBe(
      "plazo suspendido: esperando a su ayuntamiento",
    );
    expect(deadlineWords(null, { now: NOW }).text).toBe("sin plazo fijado");
    expect(deadlineWords("2027-01-15", { now: NOW }).text).toContain("15 de enero de 2027");
  });
});

describe("dates from three inputs", () => {
  it("accepts real dates only", () => {
    expect(isoFromParts("27", "3", "2026")).toBe("2026-03-27");
    expect(isoFromParts("31", "2", "2026")).toBeNull();
    expect(isoFromParts("", "2", "2026")).toBeNull();
    expect(isoFromParts("1", "13", "2026")).toBeNull();
  });
  it("gives Madrid midnight with its offset, winter and summer", () => {
    expect(madridMidnight("2026-01-10")).toBe("2026-01-10T00:00:00+01:00");
    expect(madridMidnight("2026-07-10")).toBe("2026-07-10T00:00:00+02:00");
  });
});
