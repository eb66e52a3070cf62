/** Redis URLs: checked before anything connects, and never shown with their password. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRedisUrl, redactIn, redactUrl } from '../../src/batch/redis-url.js';

test('redactUrl hides the password and keeps the rest', () => {
  assert.equal(redactUrl('redis://user:s3cret@host:6379/2'), 'redis://user:***@host:6379/2');
  assert.equal(redactUrl('redis://:s3cret@10.0.0.5:6380'), 'redis://:***@10.0.0.5:6380');
  assert.equal(redactUrl('redis://host:6379'), 'redis://host:6379');
  assert.equal(redactUrl('rediss://u:p%40ss@h:1/0'), 'rediss://u:***@h:1/0');
  // text that is no URL still loses what stands where a password would
  assert.doesNotMatch(redactUrl('redis://u:pa ss@ho st:1'), /pa ss/);
  assert.equal(redactIn('ERR for redis://u:pw123@h:1 (pw123)', 'redis://u:pw123@h:1'), 'ERR for redis://u:***@h:1 (***)');
});

test('checkRedisUrl takes redis:// and rediss:// with a host and a database number, and says what it expected otherwise', () => {
  for (const ok of ['redis://127.0.0.1:6379', 'redis://u:p@h:1/3', 'rediss://h:6380/0']) assert.equal(checkRedisUrl(ok), ok);
  const bad: [string, RegExp][] = [
    ['localhost:6379', /scheme is localhost|not a URL/],
    ['http://h:1', /scheme is http/],
    ['redis://h:1/x', /database "x"/],
    ['redis://h:1/2?x=1', /no query/],
    ['not a url', /not a URL/],
  ];
  for (const [url, why] of bad) assert.throws(() => checkRedisUrl(url), (err: Error) => why.test(err.message) && /redis:\/\/\[user:password@\]host:port/.test(err.message), url);
  assert.throws(() => checkRedisUrl('http://u:topsecret@h:1'), (err: Error) => !err.message.includes('topsecret'));
});
