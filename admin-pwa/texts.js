// Every text the owner reads, one file per language with the same keys (texts-<language>.js; a
// test checks). The language is the business's (LOCALE) unless this device chose another in Settings.
import { texts as en } from './texts-en.js';
import { texts as tr } from './texts-tr.js';
import { texts as ptBR } from './texts-pt-BR.js';

export const LANGUAGES = { en: { name: 'English', texts: en }, tr: { name: 'Türkçe', texts: tr }, 'pt-BR': { name: 'Português (Brasil)', texts: ptBR } };

/** The language for a BCP 47 tag: itself, else its base (pt → pt-BR), else English. */
export function languageOf(tag) {
  if (LANGUAGES[tag]) return tag;
  const base = String(tag).split('-')[0].toLowerCase();
  return Object.keys(LANGUAGES).find((l) => l.split('-')[0] === base) ?? 'en';
}

const config = JSON.parse(document.getElementById('config').textContent);
/** This device's choice (Settings → Language), or null for the business's language. */
export const chosenLanguage = localStorage.getItem('lc-language');
export const language = languageOf(chosenLanguage || config.locale);
export const texts = LANGUAGES[language].texts;
