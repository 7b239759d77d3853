import { AirlockError } from '../errors.js';
import { quote } from '../util/quote.js';
import type { Platform } from '../manifest/schema.js';

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

/** Parse `os/arch[/variant]` (e.g. linux/arm64, linux/arm/v7). */
export function parsePlatform(s: string): PlatformSpec {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/i.test(p))) {
    throw new AirlockError('USAGE', `invalid platform ${quote(s)}`, { hint: 'write os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7' });
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** arm64 images often omit variant v8; treat absent and v8 alike for arm64, as containerd does. */
function normVariant(arch: string, v: string | undefined): string | undefined {
  if (arch === 'arm64' && (v === undefined || v === 'v8')) return undefined;
  return v;
}

export function platformMatches(spec: PlatformSpec, p: Platform | undefined): boolean {
  if (!p) return false;
  if (p.os !== spec.os || p.architecture !== spec.architecture) return false;
  if (spec.variant === undefined) return true;
  return normVariant(p.architecture, p.variant) === normVariant(spec.architecture, spec.variant);
}
