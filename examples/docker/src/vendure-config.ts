import { VendureConfig } from '@vendure/core';
import { NativeSessionCachePlugin } from 'vendure-native-session-cache';

export const config: VendureConfig = {
  apiOptions: { port: Number(process.env.PORT ?? 3000) },
  authOptions: {
    tokenMethod: ['bearer', 'cookie'],
    // One secret for every server: it signs the cookies, and keys the session cache's Redis values.
    cookieOptions: { secret: process.env.COOKIE_SECRET },
    superadminCredentials: { identifier: 'superadmin', password: process.env.SUPERADMIN_PASSWORD ?? 'superadmin' },
  },
  dbConnectionOptions: {
    type: 'postgres',
    host: process.env.DB_HOST ?? 'postgres',
    port: Number(process.env.DB_PORT ?? 5432),
    username: process.env.DB_USERNAME ?? 'vendure',
    password: process.env.DB_PASSWORD ?? 'vendure',
    database: process.env.DB_NAME ?? 'vendure',
    synchronize: false,
  },
  paymentOptions: { paymentMethodHandlers: [] },
  plugins: [
    // Several servers share the session cache through Redis: set REDIS_URL (and COOKIE_SECRET).
    NativeSessionCachePlugin.init(process.env.REDIS_URL ? { redis: { url: process.env.REDIS_URL } } : {}),
  ],
};
