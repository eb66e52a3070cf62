/**
 * Where the graphs run: onnxruntime's execution providers by the names flowedit's --device
 * takes, what each needs, and what to say when one is missing. Pure logic; ort.ts asks
 * onnxruntime-node which providers this install has and opens the sessions.
 */

export type Device = 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';

export const DEVICES: readonly Device[] = Object.freeze(['cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const);

export const DEFAULT_DEVICE: Device = 'cpu';

/** The environment variable that picks the device when --device is not given. */
export const DEVICE_ENV = 'FLOWEDIT_DEVICE';

export function isDevice(v: unknown): v is Device {
  return (DEVICES as readonly unknown[]).includes(v);
}

/** An onnxruntime-node provider as listSupportedBackends() reports it. */
export interface Provider {
  readonly name: string;
  /** shipped inside the npm package (false: its library comes from the install step) */
  readonly bundled: boolean;
}

/** What each device needs, for the message that says how to get it. */
const HOW_TO_GET: Record<Device, string> = {
  cpu: 'it is always there',
  webgpu:
    'onnxruntime-node ships it on Windows x64 and Linux x64; on Linux it needs a Vulkan driver: the GPU vendor\'s, ' +
    'or Mesa\'s (Debian: apt-get install libvulkan1 mesa-vulkan-drivers; Debian 12 needs mesa-vulkan-drivers from bookworm-backports)',
  cuda:
    'onnxruntime-node\'s install step downloads it (Linux x64), which flowedit\'s install skips: run it with ' +
    '`node node_modules/onnxruntime-node/script/install.js --onnxruntime-node-install=cuda12` (it downloads from the NuGet feed) ' +
    'on a machine with an NVIDIA driver, CUDA 12 and cuDNN 9',
  dml: 'it exists only in onnxruntime-node for Windows (DirectML)',
  coreml: 'it exists only in onnxruntime-node for macOS (Core ML)',
};

/** What `device` needs and where to get it, for messages. */
export function howToGet(device: Device): string {
  return HOW_TO_GET[device];
}

/** The device to use: the flag, else FLOWEDIT_DEVICE, else cpu; refuses a name flowedit does not know. */
export function pickDevice(flag: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): Device {
  const given = flag ?? (env[DEVICE_ENV] || undefined);
  if (given === undefined) return DEFAULT_DEVICE;
  if (!isDevice(given)) {
    const from = flag !== undefined ? '--device' : DEVICE_ENV;
    throw new Error(`Unknown device "${given}" (${from}); expected one of ${DEVICES.join(', ')}`);
  }
  return given;
}

/**
 * Why `device` cannot run with this install's providers, or null when it can be tried.
 * `libraryPresent` says whether a provider that is not bundled has its library beside the binding.
 */
export function missingProvider(device: Device, providers: readonly Provider[], libraryPresent: (name: string) => boolean): string | null {
  const has = providers.map((p) => p.name);
  const usable = providers.filter((p) => p.bundled || libraryPresent(p.name)).map((p) => p.name);
  if (usable.includes(device)) return null;
  const state = has.includes(device) ? 'knows the ' + device + ' provider but its library is not installed' : 'has no ' + device + ' provider';
  return `This onnxruntime-node install ${state} (usable here: ${usable.join(', ')}). To get it: ${HOW_TO_GET[device]}. flowedit never falls back to another device: pass --device ${usable.includes('webgpu') ? 'webgpu or cpu' : 'cpu'} to run here.`;
}

/** The message for a provider that is installed but found no device to run on. */
export function noAdapter(device: Device, detail: string): string {
  const first = detail.split('\n')[0]!.replace(/^.*?(Failed|No supported)/, '$1');
  return `The ${device} provider found no device to run on (${first.trim()}). To get one: ${HOW_TO_GET[device]}. flowedit never falls back to another device: pass --device cpu to run on the processor.`;
}

/** Whether a provider keeps outputs in its own memory between calls (onnxruntime-node's 'gpu-buffer' location). */
export function keepsOutputsOnDevice(device: Device): boolean {
  return device === 'webgpu';
}
