import { describe, expect, it } from 'vitest';
import { listeners } from '../../src-main/common/listeners.js';

describe('listeners', () => {
  it('calls every listener, reports one that throws without stopping the others', () => {
    const errors: unknown[] = [];
    const set = listeners<number>((err) => errors.push(err));
    const heard: string[] = [];
    set.add((n) => heard.push(`a${n}`));
    set.add(() => {
      throw new Error('closed window');
    });
    set.add((n) => heard.push(`c${n}`));
    set.emit(1);
    expect(heard).toEqual(['a1', 'c1']);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('closed window');
  });

  it('unsubscribes, also from inside a listener, and clears', () => {
    const set = listeners<string>();
    const heard: string[] = [];
    const off = set.add((s) => {
      heard.push(`once:${s}`);
      off();
    });
    set.add((s) => heard.push(`always:${s}`));
    set.emit('x');
    set.emit('y');
    expect(heard).toEqual(['once:x', 'always:x', 'always:y']);
    expect(set.size).toBe(1);
    set.clear();
    set.emit('z');
    expect(heard).toHaveLength(3);
  });
});
