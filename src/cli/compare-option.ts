/** The --compare flag of edit, swap and reconstruct (what it does: compare.ts). */
export interface CompareArgs {
  compare: string | undefined;
}

export const compareOption = {
  type: 'string',
  describe:
    'also write a PNG of the source | the result (| the mask, for a swap or an automatic-mask edit) side by side, labelled; for a clip, its middle frame',
} as const;
