/** The benchmark's negative prompt for a swap: the source caption without the edited object. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { captionWithout } from '../../bench/eval/swap.js';

test('captionWithout takes out the one object the colour and shape name, wherever it stands', () => {
  const caption = 'a cyan star and an orange diamond and a purple circle on pink stripes';
  assert.equal(captionWithout(caption, { colour: 'cyan', shape: 'star' }), 'an orange diamond and a purple circle on pink stripes');
  assert.equal(captionWithout(caption, { colour: 'orange', shape: 'diamond' }), 'a cyan star and a purple circle on pink stripes');
  assert.equal(captionWithout(caption, { colour: 'purple', shape: 'circle' }), 'a cyan star and an orange diamond on pink stripes');
  assert.equal(captionWithout('a red square on a brown gradient', { colour: 'red', shape: 'square' }), 'on a brown gradient');
});

test('captionWithout refuses a caption that does not name the object, or has no background', () => {
  assert.throws(() => captionWithout('a red square on plain gray', { colour: 'blue', shape: 'square' }), /does not name one blue square/);
  assert.throws(() => captionWithout('a red square', { colour: 'red', shape: 'square' }), /no background phrase/);
});
