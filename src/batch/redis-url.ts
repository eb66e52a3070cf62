/**
 * Redis URLs as the queue takes them: redis://[user:pass@]host:port[/db] (rediss:// for TLS),
 * checked before anything connects, and shown only with their password hidden.
 */

/** `text` with any password replaced by "***" (also for text that is not a valid URL). */
export function redactUrl(text: string): string {
  try {
    const u = new URL(text);
    if (u.password === '') return text;
    u.password = '***';
    return u.toString();
  } catch {
    // not a URL: hide whatever sits between "//user:" and "@"
    return text.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
  }
}

/** `text` with every occurrence of the URL's password replaced (for messages from Redis clients). */
export function redactIn(text: string, url: string): string {
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    return text;
  }
  let out = text.split(url).join(redactUrl(url));
  if (password.length > 0) out = out.split(password).join('***');
  return out;
}

/** Checks a queue URL; throws an error saying what was expected. */
export function checkRedisUrl(text: string): string {
  const usage = 'expected redis://[user:password@]host:port[/db] (or rediss:// for TLS), e.g. redis://127.0.0.1:6379';
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new Error(`--queue ${JSON.stringify(redactUrl(text))} is not a URL: ${usage}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`--queue ${redactUrl(text)}: the scheme is ${u.protocol.replace(/:$/, '')}; ${usage}`);
  if (u.hostname === '') throw new Error(`--queue ${redactUrl(text)} names no host; ${usage}`);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^(0|[1-9][0-9]?)$/.test(db)) throw new Error(`--queue ${redactUrl(text)}: the database "${db}" is not a number from 0 to 99; ${usage}`);
  if (u.search !== '' || u.hash !== '') throw new Error(`--queue ${redactUrl(text)}: no query or fragment is taken; ${usage}`);
  return text;
}
