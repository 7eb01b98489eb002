/* config_default.S - links packaging/agent.json into the binary as the
 * NUL-terminated string kwid_default_config (see kwid/config.h). */
	.section .rodata
	.global kwid_default_config
	.type kwid_default_config, @object
kwid_default_config:
	.incbin "packaging/agent.json"
	.byte 0
	.size kwid_default_config, . - kwid_default_config
	.section .note.GNU-stack,"",@progbits
