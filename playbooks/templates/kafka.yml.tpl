# Rendered by openim-deploy from playbooks/templates/kafka.yml.tpl for
# ${host.name}: the brokers are the inventory's infra hosts.
username: ''
password: ''
producerAck: ''
compressType: none
address: [ ${join(", ", address)} ]
toRedisTopic: toRedis
toMongoTopic: toMongo
toPushTopic: toPush
toOfflinePushTopic: toOfflinePush
toRedisGroupID: redis
toMongoGroupID: mongo
toPushGroupID: push
toOfflineGroupID: offlinePush
tls:
  enableTLS: false
  caCrt: ''
  clientCrt: ''
  clientKey: ''
  clientKeyPwd: ''
  insecureSkipVerify: false
