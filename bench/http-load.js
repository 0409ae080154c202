'use strict'

// What the end-to-end benches share: GraphQL over HTTP on loopback, the superadmin login, the query
// they drive, and one autocannon run with an exact latency median.

const fx = require('../__test__/vendure/fixtures')

/** The authenticated request both end-to-end benches drive. */
const QUERY = '{ me { id identifier } }'

async function graphql(url, query, { token, variables } = {}) {
  const headers = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) })
  const text = await response.text()
  const body = JSON.parse(text)
  if (!response.ok || body.errors) throw new Error(`${url}: ${response.status} ${text}`)
  return { body, text, token: response.headers.get('vendure-auth-token') }
}

async function loginSuperadmin(adminUrl) {
  const LOGIN = `mutation ($username: String!, $password: String!) {
    login(username: $username, password: $password) { ... on CurrentUser { id identifier } ... on ErrorResult { errorCode message } }
  }`
  const { body, token } = await graphql(adminUrl, LOGIN, {
    variables: { username: fx.SUPERADMIN.identifier, password: fx.SUPERADMIN.password },
  })
  if (body.data.login.errorCode || !token) throw new Error(`superadmin login failed: ${JSON.stringify(body.data.login)}`)
  return token
}

const median = (values) => {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** One autocannon run of QUERY; resolves to its figures. Every response's time is kept for an exact median. */
function cannon({ url, token, expectBody, connections, seconds }) {
  const autocannon = require('autocannon')
  const latencies = []
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: QUERY }),
        connections,
        duration: seconds,
        expectBody, // a different answer (e.g. a Forbidden error) counts as a mismatch
      },
      (error, result) => {
        if (error) return reject(error)
        resolve({
          connections,
          seconds: result.duration,
          requests: result.requests.total,
          reqPerSec: result.requests.total / result.duration,
          reqPerSecMedian: result.requests.p50,
          reqPerSecSamples: result.samples,
          latencyMedianMs: median(latencies),
          latencyP99Ms: result.latency.p99,
          latencyMeanMs: result.latency.average,
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
          mismatches: result.mismatches,
        })
      },
    )
    instance.on('response', (client, statusCode, resBytes, responseTime) => latencies.push(responseTime))
  })
}

module.exports = { QUERY, graphql, loginSuperadmin, median, cannon }
