/** The `provider` every loopback result reports. */
export const LOOPBACK_PROVIDER_NAME = 'loopback';
