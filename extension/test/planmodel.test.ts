// Plan JSON -> text (src/planmodel.ts): strategies, layouts and the slice each device holds.
import { describe, expect, it } from 'vitest';

import { layoutText, sliceText, strategyText } from '../src/planmodel';

const mesh = { shape: [2, 2], axis_names: ['dp', 'mp'] };

describe('plan text', () => {
  it('writes MindSpore strategies', () => {
    expect(strategyText([[2, 1], [1, 4]])).toBe('(2, 1) × (1, 4)');
    expect(strategyText([])).toBe('—');
  });
  it('writes which mesh axes split each dimension, and partial sums', () => {
    const lay = { device_matrix: [2, 2], tensor_map: [1, -1], partial: [0], dim_axes: [['dp'], []], slice_shape: [4, 6] };
    expect(layoutText(lay, ['dp', 'mp'])).toBe('[dp, –] partial(mp)');
  });
  it('gives every device its slice', () => {
    const lay = { device_matrix: [2, 2], tensor_map: [1, 0], partial: [], dim_axes: [['dp'], ['mp']], slice_shape: [4, 2] };
    const slices = [[0, 0], [0, 1], [1, 0], [1, 1]].map(c => sliceText(lay, mesh, c));
    expect(slices).toEqual(['0:4, 0:2', '0:4, 2:4', '4:8, 0:2', '4:8, 2:4']);
    const replicated = { ...lay, dim_axes: [[], []], slice_shape: [8, 4] };
    expect(sliceText(replicated, mesh, [1, 1])).toBe(':, :');
  });
});
