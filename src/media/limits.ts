/**
 * Input size limits checked before any pixel is decoded: the model works at a small size, so a
 * huge input would only cost memory (a 16000 × 16000 PNG of a few hundred KB decodes to 3 GB of
 * float32 pixels).
 */

/** Default for `--max-input-pixels`: the largest image or video frame (width × height) read, 64 megapixels. */
export const DEFAULT_MAX_INPUT_PIXELS = 64_000_000;

/**
 * Refuses an input whose frames hold more than `limit` pixels, before it is decoded. The message
 * names the file, its size, the limit and the flag that raises it.
 */
export function assertInputPixels(path: string, width: number, height: number, limit: number = DEFAULT_MAX_INPUT_PIXELS): void {
  if (!(Number.isInteger(limit) && limit > 0)) throw new Error(`Expected a positive integer for --max-input-pixels but received ${String(limit)}`);
  if (width * height > limit) {
    throw new Error(
      `${path} is ${width}x${height} (${(width * height / 1e6).toFixed(1)} megapixels), more than the limit of ${(limit / 1e6).toFixed(1)} megapixels per image or frame: scale it down first, or raise the limit with --max-input-pixels ${width * height}`,
    );
  }
}
