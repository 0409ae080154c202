'use strict'

const crypto = require('node:crypto')

let counter = 0
/** A fresh 64-hex-character token, as Vendure makes them. */
const newToken = () => crypto.createHash('sha256').update(`token-${process.pid}-${++counter}-${Math.random()}`).digest('hex')
/** A unique store name, so tests never share a store by accident. */
const storeName = (label) => `test-${label}-${process.pid}-${++counter}`

const inFiveMinutes = () => Date.now() / 1000 + 300
const inAYear = () => new Date(Date.now() + 365 * 24 * 3600 * 1000)

const ALL_PERMISSIONS = [
  'Authenticated', 'SuperAdmin', 'Owner', 'Public', 'UpdateGlobalSettings', 'CreateCatalog', 'ReadCatalog',
  'UpdateCatalog', 'DeleteCatalog', 'CreateSettings', 'ReadSettings', 'UpdateSettings', 'DeleteSettings',
  'CreateAdministrator', 'ReadAdministrator', 'UpdateAdministrator', 'DeleteAdministrator', 'CreateAsset',
  'ReadAsset', 'UpdateAsset', 'DeleteAsset', 'CreateChannel', 'ReadChannel', 'UpdateChannel', 'DeleteChannel',
  'CreateCollection', 'ReadCollection', 'UpdateCollection', 'DeleteCollection', 'CreateCountry', 'ReadCountry',
  'UpdateCountry', 'DeleteCountry', 'CreateCustomer', 'ReadCustomer', 'UpdateCustomer', 'DeleteCustomer',
  'CreateCustomerGroup', 'ReadCustomerGroup', 'UpdateCustomerGroup', 'DeleteCustomerGroup', 'CreateFacet',
  'ReadFacet', 'UpdateFacet', 'DeleteFacet', 'CreateOrder', 'ReadOrder', 'UpdateOrder', 'DeleteOrder',
  'CreatePaymentMethod', 'ReadPaymentMethod', 'UpdatePaymentMethod', 'DeletePaymentMethod', 'CreateProduct',
  'ReadProduct', 'UpdateProduct', 'DeleteProduct', 'CreatePromotion', 'ReadPromotion', 'UpdatePromotion',
  'DeletePromotion', 'CreateShippingMethod', 'ReadShippingMethod', 'UpdateShippingMethod', 'DeleteShippingMethod',
  'CreateTag', 'ReadTag', 'UpdateTag', 'DeleteTag', 'CreateTaxCategory', 'ReadTaxCategory', 'UpdateTaxCategory',
  'DeleteTaxCategory', 'CreateTaxRate', 'ReadTaxRate', 'UpdateTaxRate', 'DeleteTaxRate', 'CreateSeller',
  'ReadSeller', 'UpdateSeller', 'DeleteSeller', 'CreateStockLocation', 'ReadStockLocation', 'UpdateStockLocation',
  'DeleteStockLocation', 'CreateSystem', 'ReadSystem', 'UpdateSystem', 'DeleteSystem', 'CreateZone', 'ReadZone',
  'UpdateZone', 'DeleteZone',
]

/** A fresh anonymous shop session (≈125 B of JSON), as Vendure creates one. */
function anonymousSession(token = newToken()) {
  return { cacheExpiry: inFiveMinutes(), id: 17, token, expires: inAYear(), activeOrderId: null, activeChannelId: 1 }
}

/** A logged-in customer with an active order (≈410 B). */
function customerSession(token = newToken()) {
  return {
    cacheExpiry: inFiveMinutes(),
    id: 4242,
    token,
    expires: inAYear(),
    activeOrderId: 981,
    activeChannelId: 1,
    authenticationStrategy: 'native',
    user: {
      id: 77,
      identifier: 'hayden.zieme12@hotmail.com',
      verified: true,
      channelPermissions: [
        { id: 1, token: 'e3rs0c2vh7tbydavyvuf', code: '__default_channel__', permissions: ['Authenticated'] },
      ],
    },
  }
}

/** The superadmin with every permission on two channels (≈3.5 KB). */
function superadminSession(token = newToken()) {
  return {
    cacheExpiry: inFiveMinutes(),
    id: 1,
    token,
    expires: inAYear(),
    activeOrderId: null,
    activeChannelId: 1,
    authenticationStrategy: 'native',
    user: {
      id: 1,
      identifier: 'superadmin',
      verified: true,
      channelPermissions: [
        { id: 1, token: 'e3rs0c2vh7tbydavyvuf', code: '__default_channel__', permissions: [...ALL_PERMISSIONS] },
        { id: 2, token: 'second-channel-token', code: 'second-channel', permissions: [...ALL_PERMISSIONS] },
      ],
    },
  }
}

/** An API-key session (Vendure 3.6+): the token is the key's bcrypt hash, expiring a century away. */
function apiKeySession() {
  return {
    ...customerSession('$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW'),
    expires: new Date(Date.now() + 100 * 365 * 24 * 3600 * 1000),
    authenticationStrategy: 'api-key',
  }
}

module.exports = { newToken, storeName, anonymousSession, customerSession, superadminSession, apiKeySession }
