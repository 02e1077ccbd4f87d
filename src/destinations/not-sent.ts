// Why a conversion was left out on purpose (no consent, no click, too old …), by name. The stored
// delivery keeps the English sentence (logs, the API); the owner's app finds the name again with
// `notSentReason` and says it in his language.

const REASONS = {
  notSold: 'the lead is not marked sold',
  testLead: 'a test lead: not sent to the live conversion action',
  testLeadMeta: 'a test lead goes to Meta only with META_TEST_EVENT_CODE (Events Manager → Test events)',
  soldBeforeLead: 'the sale is dated before the lead came in, so no click of this lead can have earned it',
  pastClickWindow: "the sale came more than {days} days after the lead's click (GOOGLE_CLICK_WINDOW_DAYS): Google no longer credits that click",
  noClickNoConsent: 'no click id, and no ads consent for email or phone: Google cannot match this sale',
  noClickNoContact: 'no click id and no email or phone: Google cannot credit this sale',
  noConsent: 'no ads consent: nothing about this person is sent to Meta',
  pastMetaWindow: 'the event is older than the 7 days Meta accepts',
} as const;

export type NotSent = keyof typeof REASONS;
export const NOT_SENT = Object.keys(REASONS) as NotSent[];

/** The sentence for a reason; `days` fills the click window. */
export function notSent(reason: NotSent, days?: number): string {
  return REASONS[reason].replace('{days}', String(days));
}

/** The reason a stored `not sent: …` answer names, with its number of days where it has one. */
export function notSentReason(response: string | null | undefined): { code: NotSent; days?: number } | undefined {
  const text = response?.startsWith('not sent: ') ? response.slice('not sent: '.length) : undefined;
  if (text === undefined) return undefined;
  for (const [code, sentence] of Object.entries(REASONS) as Array<[NotSent, string]>) {
    const [before, after] = sentence.split('{days}');
    if (after === undefined ? text === before : text.startsWith(before!) && text.endsWith(after)) {
      const days = after === undefined ? undefined : Number(text.slice(before!.length, text.length - after.length));
      return days === undefined ? { code } : { code, days };
    }
  }
  return undefined;
}
