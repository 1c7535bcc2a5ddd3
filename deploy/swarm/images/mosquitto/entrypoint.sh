#!/bin/sh
# Writes the password file from one Docker secret per role (hashed by mosquitto_passwd; no password reaches argv or
# the image) and runs the broker in the foreground. The roles and what each may do: /etc/mosquitto/acl.
set -eu
umask 077
: > /mosquitto/auth/passwd
for role in master worker; do
  secret="/run/secrets/mqtt_${role}_password"
  [ -s "$secret" ] || { echo "mosquitto: the MQTT password secret of the $role role ($secret) is missing or empty" >&2; exit 1; }
  printf '%s:%s\n' "$role" "$(tr -d '\r\n' < "$secret")" >> /mosquitto/auth/passwd
done
for file in tls_cert tls_key tls_ca; do
  [ -r "/run/secrets/$file" ] || { echo "mosquitto: the TLS secret /run/secrets/$file is missing or unreadable" >&2; exit 1; }
done
mosquitto_passwd -U /mosquitto/auth/passwd
exec mosquitto -c /etc/mosquitto/mosquitto.conf
