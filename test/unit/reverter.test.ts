import t from 'tap';
import { Reverter } from '../../src/converge/reverter.js';

t.test('fail undoes newest first, keeps going past a failing undo, and reports it', async (t) => {
  const r = new Reverter();
  const done: string[] = [];
  r.add('a', () => void done.push('a'));
  r.add('b', () => {
    throw new Error('b broke');
  });
  r.add('c', async () => void done.push('c'));
  t.equal(r.size, 3);
  const failed = await r.fail();
  t.strictSame(done, ['c', 'a'], 'newest first; a failing undo does not stop the others');
  t.strictSame(
    failed.map((f) => [f.what, f.error.message]),
    [['b', 'b broke']],
  );
  t.equal(r.size, 0, 'forgotten once run');
  t.strictSame(await r.fail(), [], 'a second fail runs nothing');
  t.strictSame(done, ['c', 'a']);
});

t.test('success forgets every undo', async (t) => {
  const r = new Reverter();
  let ran = false;
  r.add('x', () => {
    ran = true;
  });
  r.success();
  t.equal(r.size, 0);
  await r.fail();
  t.equal(ran, false, 'nothing is undone after success');
});
