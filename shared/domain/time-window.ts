/**
 * Time windows, one reading for every guard that needs one: chaos windows and
 * freezes, the policy's change freezes. A weekly window is read in its own
 * time zone (so daylight saving moves it with the wall clock); one whose end
 * is before its start runs past midnight, its small hours belonging to the
 * listed day before. Pure.
 */

export const weekdays = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof weekdays)[number];

/** Every week on `days` (names, or 0 = Sunday … 6), from `start` to `end` (`HH:MM`, end exclusive). */
export interface WeeklyWindow {
  days: readonly (Weekday | number)[];
  start: string;
  end: string;
  /** IANA time zone the times are read in. @default 'UTC' */
  timezone?: string | undefined;
}

/** Minutes since midnight of an `HH:MM` time. */
export const minutesOf = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
};

const dayIndex = (d: Weekday | number) => (typeof d === 'number' ? d : weekdays.indexOf(d));

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The weekday (0 = Sunday) and minute of the day `at` is in `timezone`. */
export function wallClock(at: Date, timezone = 'UTC'): { day: number; minute: number } {
  if (timezone === 'UTC') return { day: at.getUTCDay(), minute: at.getUTCHours() * 60 + at.getUTCMinutes() };
  let format = formatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timezone, format);
  }
  const parts = format.formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const day = weekdays.indexOf(part('weekday').toLowerCase().slice(0, 3) as Weekday);
  // Some engines write midnight as 24 even with h23.
  return { day, minute: (Number(part('hour')) % 24) * 60 + Number(part('minute')) };
}

/** Whether `now` falls inside the weekly window, read in the window's time zone. */
export function insideWeekly(window: WeeklyWindow, now: Date): boolean {
  const { day, minute } = wallClock(now, window.timezone ?? 'UTC');
  const days = window.days.map(dayIndex);
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  if (start <= end) return days.includes(day) && minute >= start && minute < end;
  // Past midnight: the evening belongs to the listed day, the small hours to the day before.
  return (days.includes(day) && minute >= start) || (days.includes((day + 6) % 7) && minute < end);
}

/** Whether `now` is in [from, to) (ISO instants). */
export const insideInterval = (from: string, to: string, now: Date) =>
  now.getTime() >= Date.parse(from) && now.getTime() < Date.parse(to);

/** `tue,wed 09:30–16:00 Europe/Paris` */
export const describeWeekly = (w: WeeklyWindow) =>
  `${w.days.map((d) => weekdays[dayIndex(d)] ?? String(d)).join(',')} ${w.start}–${w.end} ${w.timezone ?? 'UTC'}`;
