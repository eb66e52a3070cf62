/**
 * The training recipe's decoder growth (python/recipe_checks.py, with the project's Python environment):
 * refine blocks added to a trained decoder start as the identity, then train; a checkpoint that
 * does not fit the config is refused; a run holding only the EMA weights resumes from their step
 * and a VAE given no minutes stays as it was; the object-weighted loss weighs the cells an object
 * covers, grown by one, and trains; the caption probe reads the run it leaves and draws its sheet; the EMA-only
 * checkpoint is half precision; a checkpoint of another --config is refused with what to do; the
 * wider built-in transformer's EMA file and exported pack fit their size limits; a run that renders
 * its batches in the training process (as a GPU run does) trains to the same weights as one whose
 * data processes render them; a convolutional head grown onto a trained transformer starts by predicting
 * exactly what it did, then trains; a run folder recovered from an exported pack (python/unpack.py) holds
 * the pack's weights exactly and trains on; the shape-map auxiliary loss (--shape-aux) reads the renderer's
 * per-shape coverage, trains the transformer, stays out of the EMA weights and resumes; the decoder polish
 * focused on objects (--polish-object-weight) crops around them, weighs them and trains the decoder alone, and
 * with --polish-encoder-anchor trains the encoder too, anchored to the encoder it started from;
 * the 8-channel VAE config refuses a 4-channel VAE with what to do, and a run holding a VAE alone exports a
 * pack with --vae-only (and is told about it without), and the VAE stage focused on objects
 * (--vae-object-weight) trains encoder and decoder; a transformer moved onto another VAE's latents
 * (python/experiments/transfer.py) keeps what does not touch the latent, fits its two ends and trains on, and one moved
 * onto finer patches computes what it did on the latent upsampled; the caption
 * contrast (--caption-contrast) changes one shape word per negative caption, weighs the chosen object's
 * cells, hinges at its margin and trains the transformer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pythonFindings } from '../python.js';

interface Found {
  caption_contrast: {
    one_shape_word_changed: string; chosen_centre_min: number; other_centres_max: number; hinge_when_equal: number;
    hinge_when_apart: number; gap_when_apart: number; dropped_left_out: number; all_dropped: number; same_scenes: boolean;
    negatives_on_stills_only: string; logged_at: number[]; logged_hinge_positive: boolean; transformer_changed: boolean;
    workers_refused: boolean; own_t_range: number[]; own_x_t_on_path: boolean; high_logged_at: number[];
    high_hinge_positive: boolean; high_differs_from_shared: boolean; t_one_refused: boolean;
  };
  grew: boolean;
  max_output_change: number;
  refine_weight_after_training: number;
  refused_unfitting: boolean;
  resume: { resumed_at: number | null; step_after: number; vae_kept: boolean; slim_dtypes: string[]; full_dtypes: string[] };
  object_weights: { probe_step: number; probe_gaps: string[]; sheet_size: number[]; light_min: number; heavy_cells: number; heavy_box: number[]; weighted_steps: number };
  configs: { refusal_names_config: boolean; wide_slim_bytes: number; wide_pack_bytes: number };
  vae: {
    channels_refused: boolean; no_transformer_says_vae_only: boolean; vae_only_pack_channels: number; c8_latent_channels: number;
    object_focused_vae: { step: number; 'encoder.': boolean; 'decoder.': boolean };
  };
  render_on_device: { steps: number[]; max_weight_difference: number };
  conv_head: { grown: boolean; max_output_change: number; head_moved: boolean; misfit_refused: boolean };
  unpack: { step: number; keys_match: boolean; max_weight_difference: number; trained_on_to: number; used_folder_refused: boolean; other_config_refused: boolean };
  shape_aux: {
    coverage_sums_to_union: boolean; centres_in_their_channel: string; aux_logged_at: number[]; aux_loss_positive: boolean;
    head_in_dit_pt: boolean; head_resumed_and_moved: boolean; ema_keys_as_plain: boolean; transformer_changed_by_aux: boolean; workers_refused: boolean;
    probe_reads_head: boolean;
  };
  transfer: {
    embedding_kept: boolean; mapped_is_own_loss: boolean; read_out_lowers_loss: boolean; from_step: number; step: number; trained_to: number;
    used_folder_refused: boolean; other_config_refused: boolean; wide_embedding: number[]; wide_read_out_beats_initialised: boolean;
    finer_patches_emulate_old: boolean; finer_embedding: number[]; uneven_patch_refused: boolean;
  };
  polish_focus: {
    crops_on_objects: number; plain_at_zero: boolean; object_error_weighs_more: boolean; polish_steps: number; encoder_moved: boolean; decoder_moved: boolean; stats_kept: boolean;
    anchored_encoder_moved: boolean; anchor_is_start: boolean; anchor_kept_on_resume: boolean; tighter_anchor_drifts_less: boolean;
  };
}

test('a grown VAE decoder keeps its output until trained, an unfitting checkpoint is refused, a run resumes from its EMA weights, the object-weighted loss trains, the wider transformer fits its file limits, rendering on the training device trains the same, a pack unpacks into a run, the shape-map loss trains, the object-focused polish trains the decoder alone (or the encoder too, anchored to its latents), a VAE is refused by a config of other latent channels and exported alone on request, a transformer moves onto another VAE or finer patches, and the caption contrast trains', { timeout: 420_000 }, async () => {
  const found = await pythonFindings<Found>('recipe_checks.py');
  assert.deepEqual(found.transfer, {
    embedding_kept: true, mapped_is_own_loss: true, read_out_lowers_loss: true, from_step: 7, step: 0, trained_to: 2,
    used_folder_refused: true, other_config_refused: true, wide_embedding: [32, 32], wide_read_out_beats_initialised: true,
    finer_patches_emulate_old: true, finer_embedding: [32, 4], uneven_patch_refused: true,
  }, 'onto its own VAE the input map is the identity and the loss the old one; onto 8 channels the embedding widens and the fitted read-out beats an initialised one; the result trains on from step 0; a used folder, or a config that differs in more than the latent, is refused; onto patches half as wide it computes what the old one computes on the latent upsampled twice and averaged back, and a patch that is not a square refinement is refused');
  assert.equal(found.grew, true, 'the old state is reported as grown');
  assert.equal(found.max_output_change, 0, 'the grown decoder decodes exactly as before');
  assert.ok(found.refine_weight_after_training > 0, 'training moves the refine blocks off the identity');
  assert.equal(found.refused_unfitting, true, 'an unfitting checkpoint is refused');
  assert.deepEqual(found.resume, { resumed_at: 3, step_after: 5, vae_kept: true, slim_dtypes: ['torch.float16'], full_dtypes: ['torch.float32'] },
    'dit-ema.pt alone (half precision) resumes at its step; the VAE is kept; dit.pt stays full precision');
  assert.deepEqual(found.object_weights, { probe_step: 2, probe_gaps: ['colour', 'empty', 'shape'], sheet_size: [256, 768], light_min: 1, heavy_cells: 16, heavy_box: [1, 4, 1, 4], weighted_steps: 2 },
    'an 8-pixel square at pixel 8 covers latent cells 2-3; grown by one cell, cells 1-4 weigh 1 + λ; a weighted run trains; the caption probe reads it and draws 6 rows (round trip + 5 t) of 2 scenes at 128×128');
  assert.equal(found.configs.refusal_names_config, true, 'a checkpoint of another config is refused, naming --config and a new run folder');
  assert.ok(found.configs.wide_slim_bytes < 16 * 2 ** 20, `the wider EMA file is ${found.configs.wide_slim_bytes} bytes, over 16 MiB`);
  assert.ok(found.configs.wide_pack_bytes < 40e6, `the wider pack is ${found.configs.wide_pack_bytes} bytes, over 40 MB`);
  assert.deepEqual(found.vae, {
    channels_refused: true, no_transformer_says_vae_only: true, vae_only_pack_channels: 4, c8_latent_channels: 8,
    object_focused_vae: { step: 2, 'encoder.': true, 'decoder.': true },
  }, 'a 4-channel vae.pt is refused by flowedit-tiny-c8 naming --config and the misfit; a VAE-only run exports with --vae-only and says so without it; --vae-object-weight trains encoder and decoder');
  assert.deepEqual(found.render_on_device, { steps: [3, 3], max_weight_difference: 0 },
    '--render-on device (scenes drawn by the data process, rendered in training) trains to the same weights as rendering processes');
  assert.deepEqual(found.conv_head, { grown: true, max_output_change: 0, head_moved: true, misfit_refused: true },
    'a transformer without the convolutional head loads into a config with one, predicts as before, then trains the head; other misfits are refused');
  assert.deepEqual(found.unpack, { step: 7, keys_match: true, max_weight_difference: 0, trained_on_to: 9, used_folder_refused: true, other_config_refused: true },
    'unpack.py recovers the exported weights exactly with the step the pack records, the run trains on, and a used folder or another config is refused');
  const aux = found.shape_aux;
  assert.equal(aux.coverage_sums_to_union, true, 'the per-shape coverage adds up to the union of the objects');
  const [inChannel, objects] = aux.centres_in_their_channel.split('/').map(Number);
  assert.ok(objects !== undefined && objects > 0 && inChannel === objects, `every object's centre lies in its shape's channel (${aux.centres_in_their_channel})`);
  assert.deepEqual(aux.aux_logged_at, [50], 'the shape map loss is logged with the flow loss');
  assert.equal(aux.aux_loss_positive, true);
  assert.equal(aux.head_in_dit_pt, true, 'the head and its optimiser are checkpointed in dit.pt');
  assert.equal(aux.head_resumed_and_moved, true, 'a resumed run continues the head with its optimiser');
  assert.equal(aux.ema_keys_as_plain, true, 'the EMA weights (and so the pack) hold the transformer alone');
  assert.equal(aux.transformer_changed_by_aux, true, 'the auxiliary loss trains the transformer');
  assert.equal(aux.workers_refused, true, '--shape-aux without --render-on device is refused');
  assert.equal(aux.probe_reads_head, true, 'caption_probe.py --shape-map scores the head at each of its five t');
  const con = found.caption_contrast;
  assert.equal(con.one_shape_word_changed, '12/12', 'each negative caption differs from the true one in the chosen object\'s shape word alone, changed to another shape');
  assert.equal(con.chosen_centre_min, 1, 'the chosen object\'s centre cell weighs fully');
  assert.equal(con.other_centres_max, 0, 'the other objects\' centre cells weigh nothing');
  assert.equal(con.hinge_when_equal, 0.1, 'a negative caption that predicts as well as the true one costs the margin');
  assert.equal(con.hinge_when_apart, 0, 'a negative caption worse by more than the margin costs nothing');
  assert.equal(con.gap_when_apart, 1, 'the gap is the mean squared difference on the object\'s cells');
  assert.equal(con.dropped_left_out, 0.1, 'a dropped caption is left out of the mean');
  assert.equal(con.all_dropped, 0, 'a batch whose captions are all dropped adds nothing');
  assert.equal(con.same_scenes, true, 'the negatives come from a generator of their own: the scenes are those of a run without them');
  assert.equal(con.negatives_on_stills_only, '6/6', 'still batches carry negatives, clip batches none');
  assert.deepEqual(con.logged_at, [50], 'the hinge and the gap are logged with the flow loss');
  assert.equal(con.logged_hinge_positive, true);
  assert.equal(con.transformer_changed, true, 'the contrast trains the transformer to other weights than a run without it');
  assert.equal(con.workers_refused, true, '--caption-contrast without --render-on device is refused');
  const [tLow, tHigh] = con.own_t_range as [number, number];
  assert.ok(tLow >= 0.7 && tHigh < 1, `--caption-contrast-t 0.7 draws t' in [0.7, 1), got ${tLow}..${tHigh}`);
  assert.ok(tHigh - tLow > 0.2, 'the 64 draws spread over the range');
  assert.equal(con.own_x_t_on_path, true, "x_t' = (1 − t')·x0 + t'·ε' with ε' = u' + x0");
  assert.deepEqual(con.high_logged_at, [50], 'the contrast at large t logs its hinge too');
  assert.equal(con.high_hinge_positive, true);
  assert.equal(con.high_differs_from_shared, true, 'the contrast on its own x_t trains to other weights than on the flow loss\'s');
  assert.equal(con.t_one_refused, true, '--caption-contrast-t 1 leaves no range to draw from and is refused');
  const polish = found.polish_focus;
  assert.equal(polish.crops_on_objects, 4, 'with every crop drawn around an object, each of the 4 crops holds object pixels');
  assert.equal(polish.plain_at_zero, true, 'at λ 0 the weighted loss is the plain L1 + L2');
  assert.equal(polish.object_error_weighs_more, true, 'at λ 4 an error on the objects alone costs more than twice what it costs at λ 0');
  assert.ok(polish.polish_steps > 0, 'the object-weighted polish takes steps');
  assert.equal(polish.encoder_moved, false, 'the polish leaves the encoder, and so the latents, as they were');
  assert.equal(polish.decoder_moved, true, 'the polish trains the decoder');
  assert.equal(polish.stats_kept, true, 'in a folder recovered from a pack the latent shift and scale are kept and the round-trip figure is written');
  assert.equal(polish.anchored_encoder_moved, true, 'with --polish-encoder-anchor the encoder trains too');
  assert.equal(polish.anchor_is_start, true, 'the anchor is the encoder the anchored polish started from');
  assert.equal(polish.anchor_kept_on_resume, true, 'a resumed anchored polish keeps the first anchor, not its own checkpoint');
  assert.equal(polish.tighter_anchor_drifts_less, true, 'a larger β keeps the latents nearer the anchor');
});
