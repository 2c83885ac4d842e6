/*
 * httpd_notls.c - the TLS entry points of a statically linked libmicrohttpd, which the engine
 * never uses (adapt/httpd.c never passes MHD_USE_TLS: TLS ends at the operator's proxy).
 * Debian's libmicrohttpd is built with GnuTLS; linked as a shared library it brings GnuTLS and
 * eight more libraries into every `serve` (~2.4 MB of idle RSS, issue 14). Linked statically
 * (CMakeLists.txt, ENG_MHD_STATIC) its references to GnuTLS resolve here instead: the library's
 * constructor and destructor call gnutls_global_init / _deinit, which do nothing (the link
 * names gnutls_global_init undefined up front, so this file is taken from the engine's archive
 * before libmicrohttpd.a is read); any other
 * entry point would mean a TLS daemon was started, and ends the process at once.
 * Owns: nothing. Must not: be built when libmicrohttpd is linked as a shared library.
 */
#include <stdio.h>
#include <stdlib.h>

/* the symbols libmicrohttpd.a references (nm -u), declared here for -Wmissing-prototypes */
int gnutls_global_init(void);
void gnutls_global_deinit(void);
extern void *(*gnutls_malloc)(size_t);
void gnutls_alpn_set_protocols(void);
void gnutls_bye(void);
void gnutls_certificate_allocate_credentials(void);
void gnutls_certificate_free_credentials(void);
void gnutls_certificate_server_set_request(void);
void gnutls_certificate_set_dh_params(void);
void gnutls_certificate_set_retrieve_function2(void);
void gnutls_certificate_set_retrieve_function3(void);
void gnutls_certificate_set_x509_key_mem(void);
void gnutls_certificate_set_x509_key_mem2(void);
void gnutls_certificate_set_x509_trust_mem(void);
void gnutls_cipher_get(void);
void gnutls_credentials_set(void);
void gnutls_deinit(void);
void gnutls_dh_params_deinit(void);
void gnutls_dh_params_import_pkcs3(void);
void gnutls_dh_params_init(void);
void gnutls_handshake(void);
void gnutls_init(void);
void gnutls_priority_deinit(void);
void gnutls_priority_init(void);
void gnutls_priority_set(void);
void gnutls_protocol_get_version(void);
void gnutls_psk_allocate_server_credentials(void);
void gnutls_psk_free_server_credentials(void);
void gnutls_psk_set_server_credentials_function(void);
void gnutls_record_check_pending(void);
void gnutls_record_get_direction(void);
void gnutls_record_recv(void);
void gnutls_record_send(void);
void gnutls_session_get_ptr(void);
void gnutls_session_set_ptr(void);
void gnutls_strerror(void);
void gnutls_transport_set_int2(void);

int gnutls_global_init(void)
{
    return 0;
}

void gnutls_global_deinit(void)
{
}

void *(*gnutls_malloc)(size_t) = malloc;

static void notls(const char *fn)
{
    fprintf(stderr, "tallysync: libmicrohttpd called %s, but this build has no TLS\n", fn);
    abort();
}

void gnutls_alpn_set_protocols(void)
{
    notls("gnutls_alpn_set_protocols");
}

void gnutls_bye(void)
{
    notls("gnutls_bye");
}

void gnutls_certificate_allocate_credentials(void)
{
    notls("gnutls_certificate_allocate_credentials");
}

void gnutls_certificate_free_credentials(void)
{
    notls("gnutls_certificate_free_credentials");
}

void gnutls_certificate_server_set_request(void)
{
    notls("gnutls_certificate_server_set_request");
}

void gnutls_certificate_set_dh_params(void)
{
    notls("gnutls_certificate_set_dh_params");
}

void gnutls_certificate_set_retrieve_function2(void)
{
    notls("gnutls_certificate_set_retrieve_function2");
}

void gnutls_certificate_set_retrieve_function3(void)
{
    notls("gnutls_certificate_set_retrieve_function3");
}

void gnutls_certificate_set_x509_key_mem(void)
{
    notls("gnutls_certificate_set_x509_key_mem");
}

void gnutls_certificate_set_x509_key_mem2(void)
{
    notls("gnutls_certificate_set_x509_key_mem2");
}

void gnutls_certificate_set_x509_trust_mem(void)
{
    notls("gnutls_certificate_set_x509_trust_mem");
}

void gnutls_cipher_get(void)
{
    notls("gnutls_cipher_get");
}

void gnutls_credentials_set(void)
{
    notls("gnutls_credentials_set");
}

void gnutls_deinit(void)
{
    notls("gnutls_deinit");
}

void gnutls_dh_params_deinit(void)
{
    notls("gnutls_dh_params_deinit");
}

void gnutls_dh_params_import_pkcs3(void)
{
    notls("gnutls_dh_params_import_pkcs3");
}

void gnutls_dh_params_init(void)
{
    notls("gnutls_dh_params_init");
}

void gnutls_handshake(void)
{
    notls("gnutls_handshake");
}

void gnutls_init(void)
{
    notls("gnutls_init");
}

void gnutls_priority_deinit(void)
{
    notls("gnutls_priority_deinit");
}

void gnutls_priority_init(void)
{
    notls("gnutls_priority_init");
}

void gnutls_priority_set(void)
{
    notls("gnutls_priority_set");
}

void gnutls_protocol_get_version(void)
{
    notls("gnutls_protocol_get_version");
}

void gnutls_psk_allocate_server_credentials(void)
{
    notls("gnutls_psk_allocate_server_credentials");
}

void gnutls_psk_free_server_credentials(void)
{
    notls("gnutls_psk_free_server_credentials");
}

void gnutls_psk_set_server_credentials_function(void)
{
    notls("gnutls_psk_set_server_credentials_function");
}

void gnutls_record_check_pending(void)
{
    notls("gnutls_record_check_pending");
}

void gnutls_record_get_direction(void)
{
    notls("gnutls_record_get_direction");
}

void gnutls_record_recv(void)
{
    notls("gnutls_record_recv");
}

void gnutls_record_send(void)
{
    notls("gnutls_record_send");
}

void gnutls_session_get_ptr(void)
{
    notls("gnutls_session_get_ptr");
}

void gnutls_session_set_ptr(void)
{
    notls("gnutls_session_set_ptr");
}

void gnutls_strerror(void)
{
    notls("gnutls_strerror");
}

void gnutls_transport_set_int2(void)
{
    notls("gnutls_transport_set_int2");
}
