// Every string of the console, in Chinese and English (tests/console/i18n.test.ts checks that both
// dictionaries have the same keys and that every key the pages use exists). The choice is kept in
// localStorage; Chinese is the default when the browser prefers it.
import { EN } from './i18n-en.js';
import { ZH } from './i18n-zh.js';

export const DICTS = { en: EN, zh: ZH };

let lang = (() => {
  try {
    const saved = localStorage.getItem('indomain.lang');
    if (saved === 'en' || saved === 'zh') return saved;
  } catch {
    /* storage unavailable: the default */
  }
  return (navigator.language ?? '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
})();

export const getLang = () => lang;

export function setLang(l) {
  lang = l === 'zh' ? 'zh' : 'en';
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  try {
    localStorage.setItem('indomain.lang', lang);
  } catch {
    /* not kept */
  }
}

/** The string of `key` in the current language with {name} placeholders filled; `fallback` (or the key) when unknown. */
export function t(key, vars = {}, fallback) {
  const s = DICTS[lang][key] ?? fallback ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] !== undefined ? String(vars[k]) : m));
}
