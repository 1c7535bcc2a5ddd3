#!/bin/sh
# Writes the password file from the Docker secret (hashed by mosquitto_passwd; the password never reaches argv)
# and runs the broker in the foreground.
set -eu
secret="${MQTT_PASSWORD_FILE:-/run/secrets/mqtt_password}"
user="${MQTT_USERNAME:-aisystem}"
[ -s "$secret" ] || { echo "mosquitto: the MQTT password secret $secret is missing or empty" >&2; exit 1; }
umask 077
printf '%s:%s\n' "$user" "$(tr -d '\r\n' < "$secret")" > /mosquitto/auth/passwd
mosquitto_passwd -U /mosquitto/auth/passwd
exec mosquitto -c /etc/mosquitto/mosquitto.conf
