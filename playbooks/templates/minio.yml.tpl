# Rendered by openim-deploy from playbooks/templates/minio.yml.tpl for
# ${host.name}. The secret key comes from IMENV_MINIO_SECRETACCESSKEY.
bucket: openim
accessKeyID: ${access_key}
secretAccessKey: ''
sessionToken: ''
internalAddress: ${internal}
externalAddress: ${external}
publicRead: false
